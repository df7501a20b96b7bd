using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// GPT-2 (Radford et al. 2019): learned positions, pre-LayerNorm blocks, fused qkv, GELU MLP,
/// LM head tied to the token embedding. Field names are HF keys: transformer.{wte,wpe,h.{i},ln_f}.
/// HF stores c_attn/c_proj/c_fc as Conv1D, i.e. weight (in, out); they are transposed at the
/// checkpoint boundary (<see cref="IsConv1DWeight"/>) so that every layer here is a plain Linear.
/// </summary>
internal sealed class Gpt2LMHeadModel : CausalLM
{
    readonly Gpt2Model transformer;
    readonly Linear? score;

    public Gpt2LMHeadModel(TransformerConfig c, ScalarType dtype = ScalarType.Float32) : base(nameof(Gpt2LMHeadModel), c)
    {
        transformer = new Gpt2Model(c, dtype);
        if (c.NumLabels is int labels) score = new Linear(c.HiddenSize, labels, false, dtype);
        RegisterComponents();
    }

    /// <summary>True for checkpoint keys stored transposed by HF's Conv1D.</summary>
    public static bool IsConv1DWeight(string key) =>
        key.EndsWith(".weight", StringComparison.Ordinal) && (key.Contains(".attn.c_attn.") || key.Contains(".attn.c_proj.") || key.Contains(".mlp.c_fc.") || key.Contains(".mlp.c_proj."));

    public override Tensor Hidden(Tensor inputIds, Tensor positions, Tensor? keyValid = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        if (positions.max().item<long>() >= Config.MaxPositions)
            throw new ArgumentException($"position {positions.max().item<long>()} is past n_positions = {Config.MaxPositions}");
        var mask = MaskFor(keyValid, inputIds, cache);
        var x = transformer.wte.forward(inputIds).Plus(transformer.wpe.forward(positions)); // (B, T, d)
        for (int i = 0; i < transformer.h.Count; i++) x = ((Gpt2Block)transformer.h[i]).Forward(x, mask, cache, i);
        cache?.Advance((int)inputIds.shape[1]);
        return transformer.ln_f.forward(x).MoveToOuterDisposeScope();
    }

    public override Tensor LmLogits(Tensor hidden) => score is null
        ? InferenceGemm.Linear(hidden, transformer.wte.weight)                    // (B, T, V)
        : throw new InvalidOperationException("this is a sequence-classification model: it has no LM head");

    public override Tensor ScoreLogits(Tensor hidden) =>
        score?.forward(hidden) ?? throw new InvalidOperationException("this model has no sequence-classification head (score.weight)");

    sealed class Gpt2Model : nn.Module
    {
        public readonly Embedding wte, wpe;
        public readonly ModuleList<nn.Module> h;
        public readonly LayerNorm ln_f;

        public Gpt2Model(TransformerConfig c, ScalarType dtype) : base(nameof(Gpt2Model))
        {
            wte = new Embedding(c.VocabSize, c.HiddenSize, dtype);
            wpe = new Embedding(c.MaxPositions, c.HiddenSize, dtype);
            h = new ModuleList<nn.Module>(Enumerable.Range(0, c.NumLayers).Select(_ => (nn.Module)new Gpt2Block(c, dtype)).ToArray());
            ln_f = new LayerNorm(c.HiddenSize, c.NormEps, dtype);
            RegisterComponents();
        }
    }

    sealed class Gpt2Block : nn.Module
    {
        readonly LayerNorm ln_1, ln_2;
        readonly Gpt2Attention attn;
        readonly Gpt2Mlp mlp;

        public Gpt2Block(TransformerConfig c, ScalarType dtype) : base(nameof(Gpt2Block))
        {
            ln_1 = new LayerNorm(c.HiddenSize, c.NormEps, dtype);
            attn = new Gpt2Attention(c, dtype);
            ln_2 = new LayerNorm(c.HiddenSize, c.NormEps, dtype);
            mlp = new Gpt2Mlp(c, dtype);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor? mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            var h = x.Plus(attn.Forward(ln_1.forward(x), mask, cache, index));          // (B, T, d)
            return h.Plus(mlp.Forward(ln_2.forward(h))).MoveToOuterDisposeScope();
        }
    }

    sealed class Gpt2Attention : nn.Module
    {
        readonly Linear c_attn, c_proj;
        readonly int _heads, _headDim;

        public Gpt2Attention(TransformerConfig c, ScalarType dtype) : base(nameof(Gpt2Attention))
        {
            _heads = c.NumHeads; _headDim = c.HeadDim;
            c_attn = new Linear(c.HiddenSize, 3 * c.HiddenSize, true, dtype);
            c_proj = new Linear(c.HiddenSize, c.HiddenSize, true, dtype);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor? mask, KvCache? cache, int index)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], t = x.shape[1];
            var qkv = c_attn.forward(x).view(b, t, 3, _heads, _headDim).permute(2, 0, 3, 1, 4); // (3, B, H, T, hd)
            Tensor q = qkv[0], k = qkv[1], v = qkv[2];
            if (cache is not null) (k, v) = cache.Append(index, k, v);                    // (B, H, S, hd)
            var o = AttentionMath.Attend(q, k, v, mask);                                 // (B, H, T, hd)
            return c_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope();
        }
    }

    sealed class Gpt2Mlp : nn.Module
    {
        readonly Linear c_fc, c_proj;
        readonly string _act;

        public Gpt2Mlp(TransformerConfig c, ScalarType dtype) : base(nameof(Gpt2Mlp))
        {
            c_fc = new Linear(c.HiddenSize, c.IntermediateSize, true, dtype);
            c_proj = new Linear(c.IntermediateSize, c.HiddenSize, true, dtype);
            _act = c.HiddenAct;
            RegisterComponents();
        }

        public Tensor Forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return c_proj.forward(Activation(_act, c_fc.forward(x))).MoveToOuterDisposeScope(); // (B, T, d)
        }
    }
}
