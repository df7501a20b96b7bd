using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>Small random-weight models of each architecture, deterministic by seed.</summary>
internal static class TinyModels
{
    public static TransformerConfig Llama(int vocab = 97, int? labels = null, bool tied = false) => new()
    {
        Architecture = Architecture.Llama, VocabSize = vocab, HiddenSize = 32, IntermediateSize = 48, NumLayers = 2,
        NumHeads = 4, NumKvHeads = 2, HeadDim = 8, MaxPositions = 128, NormEps = 1e-5, RopeTheta = 10000,
        TieWordEmbeddings = tied, NumLabels = labels,
    };

    public static TransformerConfig Qwen2(int vocab = 97) => Llama(vocab) with { Architecture = Architecture.Qwen2, QkvBias = true, RopeTheta = 1e6, NormEps = 1e-6 };

    public static TransformerConfig Gpt2(int vocab = 97, int? labels = null) => new()
    {
        Architecture = Architecture.Gpt2, VocabSize = vocab, HiddenSize = 32, IntermediateSize = 128, NumLayers = 2,
        NumHeads = 4, NumKvHeads = 4, HeadDim = 8, MaxPositions = 64, NormEps = 1e-5, TieWordEmbeddings = true,
        QkvBias = true, OutputBias = true, MlpBias = true, HiddenAct = "gelu_new", NumLabels = labels,
    };

    public static CausalLM Create(TransformerConfig c, long seed = 0)
    {
        manual_seed(seed);
        CausalLM m = c.Architecture switch
        {
            Architecture.Gpt2 => new Gpt2LMHeadModel(c),
            Architecture.Gemma2 or Architecture.Gemma3 => new GemmaForCausalLM(c),
            _ => new LlamaForCausalLM(c),
        };
        // Biases and norms start at 0/1; randomise them so that round trips test every tensor.
        using (no_grad())
            foreach (var (name, p) in m.named_parameters())
                if (p.dim() == 1) p.add_(randn_like(p) * 0.1);
        m.eval();
        return m;
    }

    public static Tensor Logits(CausalLM m, long[] ids)
    {
        using var _ = no_grad();
        using var input = tensor(ids).unsqueeze(0);                                  // (1, T)
        using var pos = arange(ids.Length, dtype: ScalarType.Int64).unsqueeze(0);
        using var h = m.Hidden(input, pos);
        return m.HasLmHead ? m.LmLogits(h) : m.ScoreLogits(h);
    }
}
