using System.Diagnostics;
using Ares.Models.Generation;
using Ares.Models.Training;
using Xunit.Abstractions;
using static Ares.Models.Tests.TractableProblem;

namespace Ares.Models.Tests;

/// <summary>
/// The proof that trajectory balance is implemented right: on <see cref="TractableProblem"/> (256
/// objects, known rewards) the trained sampler's exact distribution matches R(x)/Z, for both
/// architectures, while REINFORCE on the same reward collapses onto a single mode (whichever it
/// finds first).
/// </summary>
public class GflowNetTractableTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Gflownet_matches_reward_over_z_within_tv_005(string architecture)
    {
        var clock = Stopwatch.StartNew();
        using var gfn = Model(architecture, seed: 3);
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
                (i, m) =>
                {
                    lastLogZ = m["tb/log_z"];
                    if (i % 100 == 99) output.WriteLine($"step {i + 1}: TB loss {m["tb/loss"]:F3}, log Z {m["tb/log_z"]:F3}, TV {TotalVariation(Exact(gfn), Target):F3}");
                });
        var p = Exact(gfn);
        double tv = TotalVariation(p, Target);
        output.WriteLine($"GFlowNet ({architecture}): TV(P, R/Z) = {tv:F4} (untrained {before:F4}); log Z = {lastLogZ:F3} vs log Z* = {LogZ:F3}; " +
            $"P(top) = {p[Top]:F3} vs {Target[Top]:F3}; Σ P = {p.Sum():F4}; {clock.Elapsed.TotalSeconds:F1} s");

        Assert.True(tv <= 0.05, $"GFlowNet TV {tv:F4} > 0.05");
        Assert.True(Math.Abs(lastLogZ - LogZ) < 0.2, $"log Z {lastLogZ:F3} vs {LogZ:F3}");
    }

    [Fact]
    public void Reinforce_on_the_same_reward_collapses_onto_one_mode()
    {
        var clock = Stopwatch.StartNew();
        using var rl = Model("gpt2", seed: 3);
        using var reference = Model("gpt2", seed: 3);
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

        Assert.True(q[collapsed] > 0.8 && Reward(Objects[collapsed]) > Floor, $"REINFORCE's most likely object has P = {q[collapsed]:F3}");  // collapsed onto one mode
        Assert.True(tvRl > 0.3, $"REINFORCE TV {tvRl:F4}");
    }
}
