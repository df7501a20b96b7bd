using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// Gemma 2 and Gemma 3 (text) decoders (Gemma Team 2024, 2025). Against Llama: the embedding is scaled by
/// √hidden; every RMSNorm multiplies by (1 + weight) in fp32; attention and MLP are each wrapped in a pre-
/// and a post-norm; the MLP is GeGLU (gelu_pytorch_tanh); attention scores are scaled by
/// query_pre_attn_scalar^-0.5 and (Gemma 2) soft-capped, c·tanh(s/c), before the mask; layers alternate
/// between a sliding window and global attention; (Gemma 2) the LM logits are soft-capped too. Gemma 3
/// adds q/k RMSNorms over head_dim before RoPE and a separate rope base for its sliding layers.
/// Field names are HF checkpoint keys: model.embed_tokens, model.layers.{i}.self_attn.{q,k,v,o}_proj,
/// model.layers.{i}.self_attn.{q,k}_norm (Gemma 3), model.layers.{i}.mlp.{gate,up,down}_proj,
/// model.layers.{i}.{input,post_attention,pre_feedforward,post_feedforward}_layernorm, model.norm, lm_head | score.
/// </summary>
internal sealed class GemmaForCausalLM : CausalLM
{
    readonly GemmaModel model;
    readonly Linear? lm_head;                       // absent when tied (the Gemma default) or for a classifier
    readonly Linear? score;                         // *ForSequenceClassification head, no bias
    readonly Rotary _globalRotary;
    readonly Rotary? _localRotary;                  // Gemma 3's sliding layers (rope_local_base_freq, unscaled)

    public GemmaForCausalLM(TransformerConfig c, ScalarType dtype = ScalarType.Float32) : base(nameof(GemmaForCausalLM), c)
    {
        if (c.Architecture is not (Architecture.Gemma2 or Architecture.Gemma3))
            throw new ArgumentException($"GemmaForCausalLM cannot build a {c.ModelType} model");
        model = new GemmaModel(c, dtype);
        if (c.NumLabels is int labels) score = new Linear(c.HiddenSize, labels, false, dtype);
        else if (!c.TieWordEmbeddings) lm_head = new Linear(c.HiddenSize, c.VocabSize, false, dtype);
        _globalRotary = new Rotary(c);
        if (c.RopeLocalTheta is double local) _localRotary = new Rotary(c with { RopeTheta = local, RopeLinearFactor = 1, RopeLlama3 = null });
        RegisterComponents();
    }

    public override Tensor Hidden(Tensor inputIds, Tensor positions, Tensor? keyValid = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1], s = (cache?.Length ?? 0) + t;
        var valid = keyValid ?? ones([b, s], ScalarType.Bool);
        if (valid.shape[1] != s) throw new ArgumentException($"keyValid has {valid.shape[1]} positions, expected cached + new = {s}");
        var sliding = Config.SlidingLayers;
        var globalMask = AttentionMath.Mask(valid, (int)t);                                  // (B, 1, T, S)
        var localMask = sliding is not null && sliding.Contains(true) ? AttentionMath.Mask(valid, (int)t, Config.SlidingWindow) : globalMask;
        var (cos, sin) = _globalRotary.Angles(positions);                                    // (B, 1, T, hd/2)
        var (localCos, localSin) = _localRotary is null ? (cos, sin) : _localRotary.Angles(positions);
        var x = model.embed_tokens.forward(inputIds);                                        // (B, T, d)
        // HF multiplies by √d as a tensor of the compute dtype (so bf16 rounds the normalizer first).
        x = x * tensor(new[] { Math.Sqrt(Config.HiddenSize) }).to_type(x.dtype);            // (B, T, d)
        for (int i = 0; i < model.layers.Count; i++)
        {
            bool local = sliding?[i] == true;
            x = ((GemmaDecoderLayer)model.layers[i]).Forward(x, local ? localCos : cos, local ? localSin : sin, local ? localMask : globalMask, cache, i);
        }
        cache?.Advance((int)t);
        return model.norm.forward(x).MoveToOuterDisposeScope();                              // (B, T, d)
    }

    public override Tensor LmLogits(Tensor hidden)
    {
        var logits = lm_head?.forward(hidden) ?? (score is null ? InferenceGemm.Linear(hidden, model.embed_tokens.weight)
            : throw new InvalidOperationException("this is a sequence-classification model: it has no LM head")); // (B, T, V)
        if (Config.FinalLogitSoftcap is not double cap) return logits;
        using (logits) return SoftCap(logits, cap);
    }

    public override Tensor ScoreLogits(Tensor hidden) =>
        score?.forward(hidden) ?? throw new InvalidOperationException("this model has no sequence-classification head (score.weight)");

    /// <summary>c·tanh(x/c): bounds x to (−c, c), nearly the identity for |x| ≪ c.</summary>
    internal static Tensor SoftCap(Tensor x, double cap)
    {
        using var scaled = x.DividedBy(cap);
        using var squashed = scaled.tanh();
        return squashed.Times(cap);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _globalRotary.Dispose(); _localRotary?.Dispose(); }
        base.Dispose(disposing);
    }

    sealed class GemmaModel : nn.Module
    {
        public readonly Embedding embed_tokens;
        public readonly ModuleList<nn.Module> layers;
        public readonly GemmaRmsNorm norm;

        public GemmaModel(TransformerConfig c, ScalarType dtype) : base(nameof(GemmaModel))
        {
            embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype);
            layers = new ModuleList<nn.Module>(Enumerable.Range(0, c.NumLayers).Select(_ => (nn.Module)new GemmaDecoderLayer(c, dtype)).ToArray());
            norm = new GemmaRmsNorm(c.HiddenSize, c.NormEps, dtype);
            RegisterComponents();
        }
    }

    sealed class GemmaDecoderLayer : nn.Module
    {
        readonly GemmaAttention self_attn;
        readonly GemmaMlp mlp;
        readonly GemmaRmsNorm input_layernorm, post_attention_layernorm, pre_feedforward_layernorm, post_feedforward_layernorm;

        public GemmaDecoderLayer(TransformerConfig c, ScalarType dtype) : base(nameof(GemmaDecoderLayer))
        {
            self_attn = new GemmaAttention(c, dtype);
            mlp = new GemmaMlp(c, dtype);
            input_layernorm = new GemmaRmsNorm(c.HiddenSize, c.NormEps, dtype);
            post_attention_layernorm = new GemmaRmsNorm(c.HiddenSize, c.NormEps, dtype);
            pre_feedforward_layernorm = new GemmaRmsNorm(c.HiddenSize, c.NormEps, dtype);
            post_feedforward_layernorm = new GemmaRmsNorm(c.HiddenSize, c.NormEps, dtype);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            var attn = self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache, index);   // (B, T, d)
            var h = x.Plus(post_attention_layernorm.forward(attn));
            var ff = mlp.Forward(pre_feedforward_layernorm.forward(h));                               // (B, T, d)
            return h.Plus(post_feedforward_layernorm.forward(ff)).MoveToOuterDisposeScope();
        }
    }

    sealed class GemmaAttention : nn.Module
    {
        readonly Linear q_proj, k_proj, v_proj, o_proj;
        readonly GemmaRmsNorm? q_norm, k_norm;      // Gemma 3
        readonly int _heads, _kvHeads, _headDim;
        readonly double _scale;
        readonly double? _softcap;

        public GemmaAttention(TransformerConfig c, ScalarType dtype) : base(nameof(GemmaAttention))
        {
            _heads = c.NumHeads; _kvHeads = c.NumKvHeads; _headDim = c.HeadDim;
            _scale = 1.0 / Math.Sqrt(c.QueryPreAttnScalar ?? c.HeadDim);
            _softcap = c.AttnLogitSoftcap;
            q_proj = new Linear(c.HiddenSize, c.NumHeads * c.HeadDim, c.QkvBias, dtype);
            k_proj = new Linear(c.HiddenSize, c.NumKvHeads * c.HeadDim, c.QkvBias, dtype);
            v_proj = new Linear(c.HiddenSize, c.NumKvHeads * c.HeadDim, c.QkvBias, dtype);
            o_proj = new Linear(c.NumHeads * c.HeadDim, c.HiddenSize, c.OutputBias, dtype);
            if (c.Architecture == Architecture.Gemma3)
            {
                q_norm = new GemmaRmsNorm(c.HeadDim, c.NormEps, dtype);
                k_norm = new GemmaRmsNorm(c.HeadDim, c.NormEps, dtype);
            }
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], t = x.shape[1];
            var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);      // (B, H, T, hd)
            var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);    // (B, H_kv, T, hd)
            var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);    // (B, H_kv, T, hd)
            if (q_norm is not null) { q = q_norm.forward(q); k = k_norm!.forward(k); }
            q = Rotary.Apply(q, cos, sin);
            k = Rotary.Apply(k, cos, sin);
            if (cache is not null) (k, v) = cache.Append(index, k, v);                    // (B, H_kv, S, hd)
            var o = Attend(q, k, v, mask, _scale, _softcap);                              // (B, H, T, hd)
            return o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope(); // (B, T, d)
        }

        /// <summary>
        /// softmax(cap(q·kᵀ·scale) masked)·v written out, since SDPA cannot soft-cap scores before the mask.
        /// q (B, H, T, hd), k/v (B, H_kv, S, hd), mask (B, 1, T, S) true = may attend. Softmax in fp32, as HF.
        /// </summary>
        static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor mask, double scale, double? softcap)
        {
            using var scope = NewDisposeScope();
            long b = k.shape[0], hkv = k.shape[1], s = k.shape[2], hd = k.shape[3], rep = q.shape[1] / hkv;
            if (rep > 1)
            {
                k = k.unsqueeze(2).expand(b, hkv, rep, s, hd).reshape(b, hkv * rep, s, hd); // (B, H, S, hd)
                v = v.unsqueeze(2).expand(b, hkv, rep, s, hd).reshape(b, hkv * rep, s, hd);
            }
            var scores = q.matmul(k.transpose(-2, -1)).Times(scale);                      // (B, H, T, S)
            if (softcap is double cap) scores = SoftCap(scores, cap);
            scores = scores.to_type(ScalarType.Float32).MaskedFill(mask.logical_not(), double.NegativeInfinity);
            var probs = scores.softmax(-1).to_type(q.dtype);                              // (B, H, T, S)
            return probs.matmul(v).MoveToOuterDisposeScope();                             // (B, H, T, hd)
        }
    }

    sealed class GemmaMlp : nn.Module
    {
        readonly Linear gate_proj, up_proj, down_proj;
        readonly string _act;

        public GemmaMlp(TransformerConfig c, ScalarType dtype) : base(nameof(GemmaMlp))
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
            var h = Activation(_act, gate_proj.forward(x)) * up_proj.forward(x);         // (B, T, ff)  GeGLU
            return down_proj.forward(h).MoveToOuterDisposeScope();                       // (B, T, d)
        }
    }
}

/// <summary>
/// Gemma's RMSNorm: x / √(mean(x²) + ε) · (1 + weight), all in fp32 and cast back at the end (HF Gemma2RMSNorm;
/// the weight is stored as an offset from 1 and starts at 0). Not Llama's: that casts before multiplying.
/// </summary>
internal sealed class GemmaRmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;               // (d)
    readonly double _eps;

    public GemmaRmsNorm(int dim, double eps, ScalarType dtype = ScalarType.Float32) : base(nameof(GemmaRmsNorm))
    {
        weight = new Parameter(zeros(dim, dtype));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xf = x.dtype == ScalarType.Float32 ? x : x.to_type(ScalarType.Float32);
        var normed = xf * rsqrt(xf.Squared().mean([-1L], keepdim: true).PlusInPlace(_eps)); // (..., d)
        var scaled = normed * weight.to_type(ScalarType.Float32).Plus(1.0);                  // (..., d)
        return (scaled.dtype == x.dtype ? scaled : scaled.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
