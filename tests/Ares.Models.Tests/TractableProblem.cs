using Ares.Models.Generation;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>
/// An object space small enough to enumerate — sequences of 4 tokens over a vocabulary of 4, 256
/// objects — with a known reward table, so a model's exact distribution can be compared with R(x)/Z.
/// </summary>
internal static class TractableProblem
{
    public const int Vocab = 4, Length = 4;

    /// <summary>
    /// The context c every sequence continues. Two different tokens, not one: a model with rotary
    /// positions only (Llama) cannot tell a run of one token from a longer run of it — attention over
    /// equal values returns that value whatever its weights — so with c = [0] its π(x₁ | c) and
    /// π(x₂ | c, x₁ = 0) are one distribution, and R/Z (0.49 vs 0.03 for token 0) is out of reach.
    /// </summary>
    public static readonly int[] Context = [0, 1];

    /// <summary>Three modes of different heights on a floor of 0.1: Z = 25.3 + 70 = 95.3, P(top) = 0.42.</summary>
    public static double Reward(int[] x) => x switch
    {
        [0, 1, 2, 3] => 40,
        [3, 2, 1, 0] => 20,
        [1, 1, 1, 1] => 10,
        _ => Floor,
    };

    public const double Floor = 0.1;
    public static readonly int[][] Objects = Enumerable.Range(0, 256).Select(i => new[] { i >> 6 & 3, i >> 4 & 3, i >> 2 & 3, i & 3 }).ToArray();
    public static readonly double[] Target = Normalise(Objects.Select(Reward).ToArray());
    public static double LogZ => Math.Log(Objects.Sum(Reward));
    public static int Top => Array.FindIndex(Objects, o => o.SequenceEqual(new[] { 0, 1, 2, 3 }));

    static double[] Normalise(double[] r) { double z = r.Sum(); return r.Select(x => x / z).ToArray(); }

    public static CausalLM Model(string architecture, long seed) => TinyModels.Create(architecture switch
    {
        "gpt2" => TinyModels.Gpt2(vocab: Vocab),
        "llama" => TinyModels.Llama(vocab: Vocab),
        _ => throw new ArgumentException($"unknown architecture '{architecture}'"),
    }, seed);

    /// <summary>Σ_t log π(x_t | x_&lt;t, c) for all 256 objects in one pass (256), with the graph when not under no_grad.</summary>
    public static Tensor LogProbs(CausalLM model) => SequenceScorer.SumLogProbs(model, Objects.Select(_ => Context).ToList(), Objects);

    /// <summary>The model's exact distribution over the 256 objects.</summary>
    public static double[] Exact(CausalLM model)
    {
        using var noGrad = no_grad();
        using var logp = LogProbs(model);                                                  // (256)
        return logp.data<float>().ToArray().Select(l => Math.Exp(l)).ToArray();
    }

    public static double TotalVariation(double[] p, double[] q) => 0.5 * p.Zip(q, (a, b) => Math.Abs(a - b)).Sum();
}
