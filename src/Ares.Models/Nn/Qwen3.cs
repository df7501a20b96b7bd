using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// Qwen3 decoder (Qwen3 Technical Report, 2025; HF modeling_qwen3): the Llama block with a per-head
/// RMSNorm on queries and keys (over head_dim, before RoPE), head_dim decoupled from hidden/heads,
/// no q/k/v bias (unless attention_bias), optional sliding window from max_window_layers on.
/// Field names are HF checkpoint keys: model.embed_tokens, model.layers.{i}.self_attn.{q,k,v,o}_proj,
/// model.layers.{i}.self_attn.{q,k}_norm, model.layers.{i}.mlp.{gate,up,down}_proj,
/// model.layers.{i}.{input,post_attention}_layernorm, model.norm, lm_head | score.
/// </summary>
internal sealed class Qwen3ForCausalLM : CausalLM
{
    readonly Qwen3Model model;
    readonly Linear? lm_head;                       // absent when tied to embed_tokens or for a classifier
    readonly Linear? score;                         // Qwen3ForSequenceClassification head, no bias
    readonly Rotary _rotary;

    public Qwen3ForCausalLM(TransformerConfig c, ScalarType dtype = ScalarType.Float32)
        : base(nameof(Qwen3ForCausalLM), c)
    {
        model = new Qwen3Model(c, dtype);
        if (c.NumLabels is int labels) score = new Linear(c.HiddenSize, labels, false, dtype);
        else if (!c.TieWordEmbeddings) lm_head = new Linear(c.HiddenSize, c.VocabSize, false, dtype);
        _rotary = new Rotary(c);
        RegisterComponents();
    }

    public override Tensor Hidden(Tensor inputIds, Tensor positions, Tensor? keyValid = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var mask = MaskFor(keyValid, inputIds, cache);
        var windowMask = Config.SlidingWindow is int w ? MaskFor(keyValid, inputIds, cache, w) : mask;
        var (cos, sin) = _rotary.Angles(positions);                               // (B, 1, T, hd/2)
        var x = model.embed_tokens.forward(inputIds);                             // (B, T, d)
        for (int i = 0; i < model.layers.Count; i++)
            x = ((Qwen3DecoderLayer)model.layers[i]).Forward(x, cos, sin, Config.WindowOf(i) is null ? mask : windowMask, cache, i);
        cache?.Advance((int)inputIds.shape[1]);
        return model.norm.forward(x).MoveToOuterDisposeScope();                   // (B, T, d)
    }

    public override Tensor LmLogits(Tensor hidden) =>
        lm_head?.forward(hidden) ?? (score is null ? InferenceGemm.Linear(hidden, model.embed_tokens.weight)
            : throw new InvalidOperationException("this is a sequence-classification model: it has no LM head")); // (B, T, V)

    public override Tensor ScoreLogits(Tensor hidden) =>
        score?.forward(hidden) ?? throw new InvalidOperationException("this model has no sequence-classification head (score.weight)");

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rotary.Dispose();
        base.Dispose(disposing);
    }

    sealed class Qwen3Model : nn.Module
    {
        public readonly Embedding embed_tokens;
        public readonly ModuleList<nn.Module> layers;
        public readonly RmsNorm norm;

        public Qwen3Model(TransformerConfig c, ScalarType dtype) : base(nameof(Qwen3Model))
        {
            embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype);
            layers = new ModuleList<nn.Module>(Enumerable.Range(0, c.NumLayers).Select(_ => (nn.Module)new Qwen3DecoderLayer(c, dtype)).ToArray());
            norm = new RmsNorm(c.HiddenSize, c.NormEps, dtype);
            RegisterComponents();
        }
    }

    sealed class Qwen3DecoderLayer : nn.Module
    {
        readonly Qwen3Attention self_attn;
        readonly Qwen3Mlp mlp;
        readonly RmsNorm input_layernorm;
        readonly RmsNorm post_attention_layernorm;

        public Qwen3DecoderLayer(TransformerConfig c, ScalarType dtype) : base(nameof(Qwen3DecoderLayer))
        {
            self_attn = new Qwen3Attention(c, dtype);
            mlp = new Qwen3Mlp(c, dtype);
            input_layernorm = new RmsNorm(c.HiddenSize, c.NormEps, dtype);
            post_attention_layernorm = new RmsNorm(c.HiddenSize, c.NormEps, dtype);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            var h = x.Plus(self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache, index)); // (B, T, d)
            return h.Plus(mlp.Forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
        }
    }

    sealed class Qwen3Attention : nn.Module
    {
        readonly Linear q_proj, k_proj, v_proj, o_proj;
        readonly RmsNorm q_norm, k_norm;             // (hd) each, shared by every head
        readonly int _heads, _kvHeads, _headDim;

        public Qwen3Attention(TransformerConfig c, ScalarType dtype) : base(nameof(Qwen3Attention))
        {
            _heads = c.NumHeads; _kvHeads = c.NumKvHeads; _headDim = c.HeadDim;
            q_proj = new Linear(c.HiddenSize, c.NumHeads * c.HeadDim, c.QkvBias, dtype);
            k_proj = new Linear(c.HiddenSize, c.NumKvHeads * c.HeadDim, c.QkvBias, dtype);
            v_proj = new Linear(c.HiddenSize, c.NumKvHeads * c.HeadDim, c.QkvBias, dtype);
            o_proj = new Linear(c.NumHeads * c.HeadDim, c.HiddenSize, c.OutputBias, dtype);
            q_norm = new RmsNorm(c.HeadDim, c.NormEps, dtype);
            k_norm = new RmsNorm(c.HeadDim, c.NormEps, dtype);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], t = x.shape[1];
            var q = q_norm.forward(q_proj.forward(x).view(b, t, _heads, _headDim)).transpose(1, 2);    // (B, H, T, hd)
            var k = k_norm.forward(k_proj.forward(x).view(b, t, _kvHeads, _headDim)).transpose(1, 2);  // (B, H_kv, T, hd)
            var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);                  // (B, H_kv, T, hd)
            q = Rotary.Apply(q, cos, sin);
            k = Rotary.Apply(k, cos, sin);
            if (cache is not null) (k, v) = cache.Append(index, k, v);                    // (B, H_kv, S, hd)
            var o = AttentionMath.Attend(q, k, v, mask);                                 // (B, H, T, hd)
            return o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope(); // (B, T, d)
        }
    }

    sealed class Qwen3Mlp : nn.Module
    {
        readonly Linear gate_proj, up_proj, down_proj;
        readonly string _act;

        public Qwen3Mlp(TransformerConfig c, ScalarType dtype) : base(nameof(Qwen3Mlp))
        {
            gate_proj = new Linear(c.HiddenSize, c.IntermediateSize, false, dtype);
            up_proj = new Linear(c.HiddenSize, c.IntermediateSize, false, dtype);
            down_proj = new Linear(c.IntermediateSize, c.HiddenSize, false, dtype);
            _act = c.HiddenAct;
            RegisterComponents();
        }

        public Tensor Forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = Activation(_act, gate_proj.forward(x)) * up_proj.forward(x);         // (B, T, ff)
            return down_proj.forward(h).MoveToOuterDisposeScope();                       // (B, T, d)
        }
    }
}
