using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// Phi-3 decoder (Abdin et al. 2024; HF modeling_phi3): the Llama block with fused projections kept as
/// the checkpoint stores them: qkv_proj = [q; k; v] rows and gate_up_proj = [gate; up] rows, split in the
/// forward. RoPE may rotate only the first partial_rotary_factor of each head, with LongRoPE factors,
/// and attention may slide over a window. Field names are HF checkpoint keys: model.embed_tokens,
/// model.layers.{i}.self_attn.{qkv,o}_proj, model.layers.{i}.mlp.{gate_up,down}_proj,
/// model.layers.{i}.{input,post_attention}_layernorm, model.norm, lm_head | score.
/// </summary>
internal sealed class Phi3ForCausalLM : CausalLM
{
    readonly Phi3Model model;
    readonly Linear? lm_head;                       // absent when tied to embed_tokens or for a classifier
    readonly Linear? score;                         // Phi3ForSequenceClassification head, no bias
    readonly LongRopeRotary _rotary;

    public Phi3ForCausalLM(TransformerConfig c, ScalarType dtype = ScalarType.Float32)
        : base(nameof(Phi3ForCausalLM), c)
    {
        model = new Phi3Model(c, dtype);
        if (c.NumLabels is int labels) score = new Linear(c.HiddenSize, labels, false, dtype);
        else if (!c.TieWordEmbeddings) lm_head = new Linear(c.HiddenSize, c.VocabSize, false, dtype);
        _rotary = new LongRopeRotary(c);
        RegisterComponents();
    }

    public override Tensor Hidden(Tensor inputIds, Tensor positions, Tensor? keyValid = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var mask = MaskFor(keyValid, inputIds, cache, Config.SlidingWindow);   // Phi-3 slides on every layer
        var (cos, sin) = _rotary.Angles(positions);                               // (B, 1, T, rd/2)
        var x = model.embed_tokens.forward(inputIds);                             // (B, T, d)
        for (int i = 0; i < model.layers.Count; i++)
            x = ((Phi3DecoderLayer)model.layers[i]).Forward(x, cos, sin, mask, cache, i);
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

    sealed class Phi3Model : nn.Module
    {
        public readonly Embedding embed_tokens;
        public readonly ModuleList<nn.Module> layers;
        public readonly RmsNorm norm;

        public Phi3Model(TransformerConfig c, ScalarType dtype) : base(nameof(Phi3Model))
        {
            embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype);
            layers = new ModuleList<nn.Module>(Enumerable.Range(0, c.NumLayers).Select(_ => (nn.Module)new Phi3DecoderLayer(c, dtype)).ToArray());
            norm = new RmsNorm(c.HiddenSize, c.NormEps, dtype);
            RegisterComponents();
        }
    }

    sealed class Phi3DecoderLayer : nn.Module
    {
        readonly Phi3Attention self_attn;
        readonly Phi3Mlp mlp;
        readonly RmsNorm input_layernorm;
        readonly RmsNorm post_attention_layernorm;

        public Phi3DecoderLayer(TransformerConfig c, ScalarType dtype) : base(nameof(Phi3DecoderLayer))
        {
            self_attn = new Phi3Attention(c, dtype);
            mlp = new Phi3Mlp(c, dtype);
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

    sealed class Phi3Attention : nn.Module
    {
        readonly Linear qkv_proj, o_proj;              // qkv_proj: ((H + 2 H_kv)·hd, d)
        readonly int _heads, _kvHeads, _headDim, _rotaryDim;

        public Phi3Attention(TransformerConfig c, ScalarType dtype) : base(nameof(Phi3Attention))
        {
            _heads = c.NumHeads; _kvHeads = c.NumKvHeads; _headDim = c.HeadDim; _rotaryDim = c.RotaryDim;
            qkv_proj = new Linear(c.HiddenSize, (c.NumHeads + 2 * c.NumKvHeads) * c.HeadDim, false, dtype);
            o_proj = new Linear(c.NumHeads * c.HeadDim, c.HiddenSize, false, dtype);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], t = x.shape[1], qw = _heads * _headDim, kw = _kvHeads * _headDim;
            var qkv = qkv_proj.forward(x);                                                // (B, T, (H + 2 H_kv)·hd)
            var q = qkv.narrow(-1, 0, qw).view(b, t, _heads, _headDim).transpose(1, 2);        // (B, H, T, hd)
            var k = qkv.narrow(-1, qw, kw).view(b, t, _kvHeads, _headDim).transpose(1, 2);     // (B, H_kv, T, hd)
            var v = qkv.narrow(-1, qw + kw, kw).view(b, t, _kvHeads, _headDim).transpose(1, 2);
            q = RotatePartial(q, cos, sin);
            k = RotatePartial(k, cos, sin);
            if (cache is not null) (k, v) = cache.Append(index, k, v);                    // (B, H_kv, S, hd)
            var o = AttentionMath.Attend(q, k, v, mask);                                 // (B, H, T, hd)
            return o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope(); // (B, T, d)
        }

        /// <summary>RoPE on the first rotary_dim dims of each head; the rest pass through (partial_rotary_factor).</summary>
        Tensor RotatePartial(Tensor x, Tensor cos, Tensor sin)
        {
            if (_rotaryDim == _headDim) return Rotary.Apply(x, cos, sin);
            using var scope = NewDisposeScope();
            var rotated = Rotary.Apply(x.narrow(-1, 0, _rotaryDim), cos, sin);           // (B, H, T, rd)
            return cat([rotated, x.narrow(-1, _rotaryDim, _headDim - _rotaryDim)], -1).MoveToOuterDisposeScope(); // (B, H, T, hd)
        }
    }

    sealed class Phi3Mlp : nn.Module
    {
        readonly Linear gate_up_proj, down_proj;       // gate_up_proj: (2·ff, d), gate rows first
        readonly string _act;
        readonly int _ff;

        public Phi3Mlp(TransformerConfig c, ScalarType dtype) : base(nameof(Phi3Mlp))
        {
            gate_up_proj = new Linear(c.HiddenSize, 2 * c.IntermediateSize, false, dtype);
            down_proj = new Linear(c.IntermediateSize, c.HiddenSize, false, dtype);
            _act = c.HiddenAct; _ff = c.IntermediateSize;
            RegisterComponents();
        }

        public Tensor Forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var gu = gate_up_proj.forward(x);                                            // (B, T, 2·ff)
            var h = gu.narrow(-1, _ff, _ff) * Activation(_act, gu.narrow(-1, 0, _ff));   // (B, T, ff)
            return down_proj.forward(h).MoveToOuterDisposeScope();                       // (B, T, d)
        }
    }
}

/// <summary>
/// RoPE over the first rotary_dim dims of a head with Phi-3's LongRoPE: inverse frequencies
/// θ^(−2i/rd) / factor_i, the short factors while the forward's last position + 1 fits the original
/// context and the long factors beyond (HF's dynamic longrope update), cos and sin scaled by the
/// attention factor. Without LongRoPE it is plain RoPE over rotary_dim.
/// </summary>
internal sealed class LongRopeRotary : IDisposable
{
    readonly Tensor _shortInvFreq, _longInvFreq;     // (rd/2) each
    readonly int _originalMax;
    readonly double _attentionFactor;

    public LongRopeRotary(TransformerConfig c)
    {
        int rd = c.RotaryDim, half = rd / 2;
        var lr = c.RopeLongRope;
        float[] Inv(double[]? factors) => Enumerable.Range(0, half)
            .Select(i => (float)(1.0 / ((factors?[i] ?? 1) * Math.Pow(c.RopeTheta, 2.0 * i / rd)))).ToArray();
        _shortInvFreq = tensor(Inv(lr?.ShortFactor));
        _longInvFreq = tensor(Inv(lr?.LongFactor));
        _originalMax = lr?.OriginalMaxPositions ?? int.MaxValue;
        _attentionFactor = lr?.AttentionFactor ?? 1;
    }

    /// <summary>cos and sin for positions (B, T), each (B, 1, T, rd/2), in fp32.</summary>
    public (Tensor Cos, Tensor Sin) Angles(Tensor positions)
    {
        using var scope = NewDisposeScope();
        bool longContext = _originalMax != int.MaxValue && positions.max().item<long>() + 1 > _originalMax;
        var angles = positions.to_type(ScalarType.Float32).unsqueeze(-1) * (longContext ? _longInvFreq : _shortInvFreq); // (B, T, rd/2)
        angles = angles.unsqueeze(1);                                                           // (B, 1, T, rd/2)
        var cos = angles.cos();
        var sin = angles.sin();
        if (_attentionFactor != 1) { cos = cos.Times(_attentionFactor); sin = sin.Times(_attentionFactor); }
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    public void Dispose() { _shortInvFreq.Dispose(); _longInvFreq.Dispose(); }
}
