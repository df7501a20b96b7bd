using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// Llama-family decoder (Llama 2/3, TinyLlama, SmolLM, Mistral, Qwen2): pre-RMSNorm blocks,
/// grouped-query attention with rotary positions (sliding-window where the config says), SwiGLU MLP. Field names are HF checkpoint keys:
/// model.embed_tokens, model.layers.{i}.self_attn.{q,k,v,o}_proj, model.layers.{i}.mlp.{gate,up,down}_proj,
/// model.layers.{i}.{input,post_attention}_layernorm, model.norm, lm_head | score.
/// </summary>
internal sealed class LlamaForCausalLM : CausalLM
{
    readonly LlamaModel model;
    readonly Linear? lm_head;                       // absent when tied to embed_tokens or for a classifier
    readonly Linear? score;                         // *ForSequenceClassification head, no bias
    readonly Rotary _rotary;

    public LlamaForCausalLM(TransformerConfig c, ScalarType dtype = ScalarType.Float32, float[]? ropeFreqFactors = null)
        : base(nameof(LlamaForCausalLM), c)
    {
        model = new LlamaModel(c, dtype);
        if (c.NumLabels is int labels) score = new Linear(c.HiddenSize, labels, false, dtype);
        else if (!c.TieWordEmbeddings) lm_head = new Linear(c.HiddenSize, c.VocabSize, false, dtype);
        _rotary = new Rotary(c, ropeFreqFactors);
        RegisterComponents();
    }

    public override Tensor Hidden(Tensor inputIds, Tensor positions, Tensor? keyValid = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var mask = MaskFor(keyValid, inputIds, cache);
        var windowMask = Config.SlidingWindow is int w ? MaskFor(keyValid, inputIds, cache, w) : mask; // Mistral; Qwen2 with use_sliding_window
        var x = model.embed_tokens.forward(inputIds);                             // (B, T, d)
        if (is_grad_enabled())
        {
            var (cos, sin) = _rotary.Angles(positions);                           // (B, 1, T, hd/2)
            for (int i = 0; i < model.layers.Count; i++)
                x = ((LlamaDecoderLayer)model.layers[i]).Forward(x, cos, sin, Config.WindowOf(i) is null ? mask : windowMask, cache, i);
        }
        else
        {
            // Inference: fused projections, residuals added in place, rotation before the head transpose.
            var (cos, sin) = _rotary.HeadAngles(positions);                       // (B, T, 1, hd)
            for (int i = 0; i < model.layers.Count; i++)
                ((LlamaDecoderLayer)model.layers[i]).Infer(x, cos, sin, Config.WindowOf(i) is null ? mask : windowMask, cache, i);
        }
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

    sealed class LlamaModel : nn.Module
    {
        public readonly Embedding embed_tokens;
        public readonly ModuleList<nn.Module> layers;
        public readonly RmsNorm norm;

        public LlamaModel(TransformerConfig c, ScalarType dtype) : base(nameof(LlamaModel))
        {
            embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype);
            layers = new ModuleList<nn.Module>(Enumerable.Range(0, c.NumLayers).Select(_ => (nn.Module)new LlamaDecoderLayer(c, dtype)).ToArray());
            norm = new RmsNorm(c.HiddenSize, c.NormEps, dtype);
            RegisterComponents();
        }
    }

    sealed class LlamaDecoderLayer : nn.Module
    {
        readonly LlamaAttention self_attn;
        readonly LlamaMlp mlp;
        readonly RmsNorm input_layernorm;
        readonly RmsNorm post_attention_layernorm;

        public LlamaDecoderLayer(TransformerConfig c, ScalarType dtype) : base(nameof(LlamaDecoderLayer))
        {
            self_attn = new LlamaAttention(c, dtype);
            mlp = new LlamaMlp(c, dtype);
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

        /// <summary>Inference (no autograd): adds this block's attention and MLP outputs to x (B, T, d) in place.</summary>
        public void Infer(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            x.PlusInPlace(self_attn.Infer(input_layernorm.ForwardInference(x), cos, sin, mask, cache, index)); // (B, T, d)
            x.PlusInPlace(mlp.Infer(post_attention_layernorm.ForwardInference(x)));
        }
    }

    sealed class LlamaAttention : nn.Module
    {
        readonly Linear q_proj, k_proj, v_proj, o_proj;
        readonly FusedProjection _qkv;                  // q/k/v weights are views of its buffer
        readonly int _heads, _kvHeads, _headDim;

        public LlamaAttention(TransformerConfig c, ScalarType dtype) : base(nameof(LlamaAttention))
        {
            _heads = c.NumHeads; _kvHeads = c.NumKvHeads; _headDim = c.HeadDim;
            _qkv = new FusedProjection(c.HiddenSize, [c.NumHeads * c.HeadDim, c.NumKvHeads * c.HeadDim, c.NumKvHeads * c.HeadDim], c.QkvBias, dtype);
            (q_proj, k_proj, v_proj) = (_qkv.Parts[0], _qkv.Parts[1], _qkv.Parts[2]);
            o_proj = new Linear(c.NumHeads * c.HeadDim, c.HiddenSize, c.OutputBias, dtype);
            RegisterComponents();
        }

        /// <summary>Inference forward with <see cref="Rotary.HeadAngles"/> (B, T, 1, hd); one QKV GEMM where <see cref="FusedProjection.CanFuse"/>.</summary>
        public Tensor Infer(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], t = x.shape[1];
            Tensor q, k, v;
            if (_qkv.CanFuse(x))
            {
                var heads = _qkv.Forward(x).view(b, t, _heads + 2 * _kvHeads, _headDim);   // (B, T, H + 2·H_kv, hd)
                var qk = Rotary.RotateHeads(heads.narrow(2, 0, _heads + _kvHeads), cos, sin); // (B, T, H + H_kv, hd)
                q = qk.narrow(2, 0, _heads).transpose(1, 2);                                 // (B, H, T, hd)
                k = qk.narrow(2, _heads, _kvHeads).transpose(1, 2);                          // (B, H_kv, T, hd)
                v = heads.narrow(2, _heads + _kvHeads, _kvHeads).transpose(1, 2);            // (B, H_kv, T, hd)
            }
            else
            {
                q = Rotary.RotateHeads(q_proj.forward(x).view(b, t, _heads, _headDim), cos, sin).transpose(1, 2);
                k = Rotary.RotateHeads(k_proj.forward(x).view(b, t, _kvHeads, _headDim), cos, sin).transpose(1, 2);
                v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
            }
            if (cache is not null) (k, v) = cache.Append(index, k, v);                        // (B, H_kv, S, hd)
            var o = AttentionMath.Attend(q, k, v, mask);                                     // (B, H, T, hd)
            return o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope(); // (B, T, d)
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _qkv.Dispose();
            base.Dispose(disposing);
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], t = x.shape[1];
            var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);      // (B, H, T, hd)
            var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);    // (B, H_kv, T, hd)
            var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);    // (B, H_kv, T, hd)
            q = Rotary.Apply(q, cos, sin);
            k = Rotary.Apply(k, cos, sin);
            if (cache is not null) (k, v) = cache.Append(index, k, v);                    // (B, H_kv, S, hd)
            var o = AttentionMath.Attend(q, k, v, mask);                                 // (B, H, T, hd)
            return o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope(); // (B, T, d)
        }
    }

    sealed class LlamaMlp : nn.Module
    {
        readonly Linear gate_proj, up_proj, down_proj;
        readonly FusedProjection _gateUp;               // gate/up weights are views of its buffer
        readonly string _act;
        readonly int _ff;

        public LlamaMlp(TransformerConfig c, ScalarType dtype) : base(nameof(LlamaMlp))
        {
            _ff = c.IntermediateSize;
            _gateUp = new FusedProjection(c.HiddenSize, [c.IntermediateSize, c.IntermediateSize], c.MlpBias, dtype);
            (gate_proj, up_proj) = (_gateUp.Parts[0], _gateUp.Parts[1]);
            down_proj = new Linear(c.IntermediateSize, c.HiddenSize, c.MlpBias, dtype);
            _act = c.HiddenAct;
            RegisterComponents();
        }

        /// <summary>Inference forward: one gate/up GEMM where <see cref="FusedProjection.CanFuse"/>, the product formed in place.</summary>
        public Tensor Infer(Tensor x)
        {
            using var scope = NewDisposeScope();
            Tensor gate, up;
            if (_gateUp.CanFuse(x))
            {
                var gu = _gateUp.Forward(x);                                             // (B, T, 2·ff)
                (gate, up) = (gu.narrow(-1, 0, _ff), gu.narrow(-1, _ff, _ff));            // (B, T, ff) each
            }
            else (gate, up) = (gate_proj.forward(x), up_proj.forward(x));
            return down_proj.forward(Activation(_act, gate).mul_(up)).MoveToOuterDisposeScope(); // (B, T, d)
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _gateUp.Dispose();
            base.Dispose(disposing);
        }

        public Tensor Forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = Activation(_act, gate_proj.forward(x)) * up_proj.forward(x);         // (B, T, ff)
            return down_proj.forward(h).MoveToOuterDisposeScope();                       // (B, T, d)
        }
    }
}
