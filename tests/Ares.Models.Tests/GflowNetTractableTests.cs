using System.Diagnostics;
using Ares.Models.Generation;
using Ares.Models.Nn;
using Ares.Models.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>
/// The proof that trajectory balance is implemented right: on an object space small enough to
/// enumerate (sequences of 4 tokens over a vocabulary of 4: 256 objects) with a known reward table,
/// the trained sampler's exact distribution matches R(x)/Z, while REINFORCE on the same reward
/// collapses onto a single mode (whichever it finds first; on this seed not the highest).
/// </summary>
public class GflowNetTractableTests(ITestOutputHelper output)
{
    const int Vocab = 4, Length = 4;
    static readonly int[] Context = [0];

    /// <summary>Three modes of different heights on a floor of 0.1: Z = 25.3 + 70 = 95.3, P(top) = 0.42.</summary>
    static double Reward(int[] x) => x switch
    {
        [0, 1, 2, 3] => 40,
        [3, 2, 1, 0] => 20,
        [1, 1, 1, 1] => 10,
        _ => Floor,
    };

    const double Floor = 0.1;
    static readonly int[][] Objects = Enumerable.Range(0, 256).Select(i => new[] { i >> 6 & 3, i >> 4 & 3, i >> 2 & 3, i & 3 }).ToArray();
    static readonly double[] Target = Normalise(Objects.Select(Reward).ToArray());

    static double[] Normalise(double[] r) { double z = r.Sum(); return r.Select(x => x / z).ToArray(); }

    static CausalLM Model(long seed) => TinyModels.Create(TinyModels.Gpt2(vocab: Vocab), seed);

    /// <summary>The sampler's exact distribution: exp(Σ_t log π(x_t | x_&lt;t, c)) for all 256 objects in one pass.</summary>
    static double[] Exact(CausalLM model)
    {
        using var noGrad = no_grad();
        using var logp = SequenceScorer.SumLogProbs(model, Objects.Select(_ => Context).ToList(), Objects);  // (256)
        return logp.data<float>().ToArray().Select(l => Math.Exp(l)).ToArray();
    }

    static double TotalVariation(double[] p, double[] q) => 0.5 * p.Zip(q, (a, b) => Math.Abs(a - b)).Sum();

    static int Top => Array.IndexOf(Objects, Objects.First(o => o.SequenceEqual(new[] { 0, 1, 2, 3 })));

    [Fact]
    public void Gflownet_matches_reward_over_z_within_tv_005_while_reinforce_collapses_onto_one_mode()
    {
        var clock = Stopwatch.StartNew();
        using var gfn = Model(seed: 3);
        double before = TotalVariation(Exact(gfn), Target);
        var config = new GflowNetConfig
        {
            LearningRate = 3e-3,          // a tiny model from scratch, not LoRA on a pretrained one
            LogZLearningRate = 3e-2,
            WarmupSteps = 20,
            MaxSteps = 500,
            BatchSize = 32,
            Beta = 1, GammaStart = 1, GammaEnd = 1, RewardTemperatureStart = 1, RewardTemperatureEnd = 1,
            MinTokens = Length, MaxTokens = Length,
            BufferCapacity = 256,
            Seed = 11,
        };
        double lastLogZ = 0;
        using (var trainer = new GflowNetTrainer(gfn, new IdTokenizer(Vocab), Context, config))
            trainer.Train((ids, _) => new GflowNetScores(ids.Select(x => new RewardTerms(0, Math.Log(Reward(x)))).ToList()),
                (i, m) => { lastLogZ = m["tb/log_z"]; if (i % 100 == 99) output.WriteLine($"step {i + 1}: TB loss {m["tb/loss"]:F3}, log Z {m["tb/log_z"]:F3}, TV {TotalVariation(Exact(gfn), Target):F3}"); });
        var p = Exact(gfn);
        double tv = TotalVariation(p, Target);
        output.WriteLine($"GFlowNet: TV(P, R/Z) = {tv:F4} (untrained {before:F4}); log Z = {lastLogZ:F3} vs log Z* = {Math.Log(Objects.Sum(Reward)):F3}; " +
            $"P(top) = {p[Top]:F3} vs {Target[Top]:F3}; Σ P = {p.Sum():F4}; {clock.Elapsed.TotalSeconds:F1} s");

        clock.Restart();
        using var rl = Model(seed: 3);
        using var reference = Model(seed: 3);
        var rlConfig = new PolicyRlConfig
        {
            CompletionsPerPrompt = 8,
            MaxNewTokens = Length,
            BatchSize = 4,
            Beta = 0,
            LearningRate = 3e-3,
            Schedule = LrScheduleKind.Constant,
            MaxSteps = 150,
            Seed = 11,
        };
        using (var trainer = new PolicyRlTrainer(rl, rlConfig, reference))
            trainer.Train(Enumerable.Repeat(Context, 4).ToList(), pairs => pairs.Select(x => Reward(x.Completion)).ToList());
        var q = Exact(rl);
        double tvRl = TotalVariation(q, Target);
        int collapsed = Array.IndexOf(q, q.Max());
        output.WriteLine($"REINFORCE (RLOO, β = 0): TV(P, R/Z) = {tvRl:F4}; P(top) = {q[Top]:F3}; " +
            $"most likely [{string.Join(",", Objects[collapsed])}] (R = {Reward(Objects[collapsed])}) with P = {q[collapsed]:F3}; {clock.Elapsed.TotalSeconds:F1} s");

        Assert.True(tv <= 0.05, $"GFlowNet TV {tv:F4} > 0.05");
        Assert.True(Math.Abs(lastLogZ - Math.Log(Objects.Sum(Reward))) < 0.2, $"log Z {lastLogZ:F3} vs {Math.Log(Objects.Sum(Reward)):F3}");
        Assert.True(q[collapsed] > 0.8 && Reward(Objects[collapsed]) > Floor, $"REINFORCE's most likely object has P = {q[collapsed]:F3}");  // collapsed onto one mode
        Assert.True(tvRl > 0.3, $"REINFORCE TV {tvRl:F4}");
    }
}
