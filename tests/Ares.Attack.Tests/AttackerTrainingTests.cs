using Ares.Models.Loading;
using Ares.Models.Training;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Tests.Sandbox;
using Xunit.Abstractions;

namespace Ares.RedTeam.Tests.Attack;

/// <summary>One SFT attacker per test process, warmed up on the small world's seed prompts (the slow part, shared).</summary>
public sealed class SmallAttackerFixture : IDisposable
{
    readonly TempDirectory _dir = new();
    readonly Lazy<string> _sft;

    public SmallAttackerFixture()
    {
        World = new SmallWorldFixture();
        _sft = new(() =>
        {
            string dir = _dir.File("sft");
            var seeds = SeedAttackPrompt.ReadPrompts(Path.Combine(World.World.DataDir, "attack_seeds.jsonl"));
            AttackerWarmup.Train(World.World.PolicyDir, seeds, new AttackerContext(), Sft, dir);
            return dir;
        });
    }

    internal static SftConfig Sft => new() { LearningRate = 2e-3, MaxSteps = 40, WarmupSteps = 4, BatchSize = 16, Seed = 1 };
    internal SmallWorldFixture World { get; }
    internal string SftDir => _sft.Value;
    internal string Temp(string name) => _dir.File(name);

    public void Dispose() => _dir.Dispose();
}

public class AttackerTrainingTests(SmallAttackerFixture fixture, ITestOutputHelper output) : IClassFixture<SmallAttackerFixture>
{
    static readonly ChatSampling TargetSampling = new() { MaxTokens = 24, Temperature = 1.0, Seed = 5 };

    static GflowNetAttackOptions Options(int steps) => new()
    {
        Training = new GflowNetConfig
        {
            LearningRate = 1e-2, LogZLearningRate = 3e-2, WarmupSteps = 2, MaxSteps = steps, BatchSize = 8,
            ScheduleSteps = steps, MinTokens = 3, MaxTokens = 24, Seed = 7,
        },
        Lora = new GflowNetAttackOptions().Lora with { Rank = 8 },
        TargetSampling = TargetSampling,
        CheckpointEvery = 5,
        // The gains asserted below were calibrated with the attacker-state buffer embeddings (the default before
        // MiniLM); AttackEvalRunnerTests trains with the MiniLM buffer, MiniLmEmbedderTests checks its threshold.
        BufferEmbedder = BufferEmbedding.AttackerStates,
    };

    (LocalChatModel Target, ClassifierJudge Judge) World() =>
        (LocalChatModel.Load(fixture.World.World.PolicyDir), ClassifierJudge.Load(fixture.World.World.JudgeDir));

    static (double Harm, double Success) Evaluate(AttackScorer scorer, IReadOnlyList<string> prompts)
    {
        var scores = new AttackScorer(scorer.Target, scorer.Judge, TargetSampling with { Seed = 99 }, scorer.ResponsesPerPrompt).ScoreAsync(prompts).GetAwaiter().GetResult();
        return (scores.Average(s => s.MeanHarm), scores.Average(s => s.Success ? 1.0 : 0.0));
    }

    [Fact]
    public void Gflownet_steps_raise_harm_over_the_sft_attacker_resume_exactly_and_smoothing_fits_the_best_finds()
    {
        var (target, judge) = World();
        using var _t = target;
        using var _j = judge;
        var scorer = new AttackScorer(target, judge, TargetSampling, responsesPerPrompt: 2);

        using var sft = ModelLoader.Load(fixture.SftDir);
        var context = new AttackerContext();
        var sftPrompts = AttackerSampling.Sample(sft, context.ContextIds(sft), 48, 24, seed: 3);
        var (sftHarm, sftSuccess) = Evaluate(scorer, sftPrompts);

        // Uninterrupted: 30 steps. Interrupted: 15 steps, checkpoint, a fresh restart from it, 15 more.
        const int steps = 30;
        var full = new List<IReadOnlyDictionary<string, double>>();
        IReadOnlyList<CollectedPrompt> collected;
        (double Harm, double Success) gfn;
        using (var attack = new GflowNetAttack(fixture.SftDir, context, scorer, Options(steps), fixture.Temp("full"), resume: false))
        {
            attack.Run((_, m) => full.Add(m));
            collected = attack.Collected;
            gfn = Evaluate(scorer, attack.Sample(48, seed: 3));
        }
        var resumed = new List<IReadOnlyDictionary<string, double>>();
        using (var attack = new GflowNetAttack(fixture.SftDir, context, scorer, Options(steps), fixture.Temp("split"), resume: false))
            attack.Run((_, m) => resumed.Add(m), stopAfter: 15);
        using (var attack = new GflowNetAttack(fixture.SftDir, context, scorer, Options(steps), fixture.Temp("split"), resume: true))
        {
            Assert.Equal(15, attack.NextStep);
            attack.Run((_, m) => resumed.Add(m));
            Assert.Equal(collected.Select(c => (c.Prompt, c.MeanHarm)), attack.Collected.Select(c => (c.Prompt, c.MeanHarm)));
        }
        foreach (var key in new[] { "tb/loss", "tb/log_z", "reward/mean", "buffer/size" })
            Assert.Equal(full.Select(m => m[key]), resumed.Select(m => m[key]));

        var smoothing = new SmoothingOptions { MinHarm = 0.5, Sft = SmallAttackerFixture.Sft with { MaxSteps = 30 } };
        var selected = MleSmoothing.Run(fixture.SftDir, context, collected, smoothing, fixture.Temp("smoothed"));
        using var smoothed = ModelLoader.Load(fixture.Temp("smoothed"));
        var smooth = Evaluate(scorer, AttackerSampling.Sample(smoothed, context.ContextIds(smoothed), 48, 24, seed: 3));

        output.WriteLine($"SFT attacker: mean harm {sftHarm:F3}, success {sftSuccess:F3} (48 prompts, k = 2)");
        output.WriteLine($"GFlowNet after {steps} steps: mean harm {gfn.Harm:F3}, success {gfn.Success:F3}; " +
            $"harm/mean per step {string.Join(" ", full.Where(m => m.ContainsKey("harm/mean")).Select(m => m["harm/mean"].ToString("F2")))}");
        var best = selected.Select(c => c.Prompt).ToList();
        double sftFit = MeanLogProb(sft, context, best), smoothFit = MeanLogProb(smoothed, context, best);
        output.WriteLine($"MLE-smoothed on {selected.Count} prompts: mean harm {smooth.Harm:F3}, success {smooth.Success:F3}; " +
            $"mean log p(best finds) {sftFit:F2} (SFT) -> {smoothFit:F2} (smoothed)");
        Assert.True(gfn.Harm > sftHarm, $"GFlowNet harm {gfn.Harm:F3} vs SFT {sftHarm:F3}");
        // Smoothing is MLE on the best finds: the attacker must now assign them far more probability. Whether its samples
        // then beat the SFT attacker's success is a measurement at scale (README's attack table), not a test on 48 prompts:
        // with ~5 selected prompts the success difference is within sampling noise (it flipped sign across machines).
        Assert.True(smoothFit > sftFit + 1.0, $"mean log p of the selected prompts: smoothed {smoothFit:F2} vs SFT {sftFit:F2}");
    }

    /// <summary>Mean over prompts of log p(prompt | attacker context) under the attacker (no special tokens added).</summary>
    static double MeanLogProb(LoadedModel attacker, AttackerContext context, IReadOnlyList<string> prompts)
    {
        using var noGrad = TorchSharp.torch.no_grad();
        var ctx = context.ContextIds(attacker);
        var ids = prompts.Select(p => attacker.Tokenizer.Encode(p, addSpecialTokens: false)).ToList();
        using var lp = Ares.Models.Generation.SequenceScorer.SumLogProbs(attacker.Model, Enumerable.Repeat(ctx, ids.Count).ToList(), ids); // (N)
        return lp.mean().item<float>();
    }

    /// <summary>
    /// REINFORCE on the same reward; a run interrupted after 2 of 4 steps and resumed from its checkpoint
    /// (a fresh process's view: new model, new trainer) repeats the uninterrupted run exactly — every
    /// metric, every collected prompt and harm, and the final adapter's samples — because every random
    /// draw is a function of (seed, step) and the adapter, AdamW state and novelty embeddings are saved bit for bit.
    /// </summary>
    [Fact]
    public void Reinforce_baseline_trains_on_the_same_reward_collects_every_prompt_and_resumes_exactly()
    {
        var (target, judge) = World();
        using var _t = target;
        using var _j = judge;
        var scorer = new AttackScorer(target, judge, TargetSampling, responsesPerPrompt: 2);
        var options = new ReinforceAttackOptions
        {
            Training = new ReinforceAttackOptions().Training with { MaxSteps = 4, BatchSize = 2, CompletionsPerPrompt = 4, LearningRate = 1e-2, WarmupSteps = 1, Seed = 7 },
            Lora = new GflowNetAttackOptions().Lora with { Rank = 8 },
            TargetSampling = TargetSampling,
            NoveltyBonus = 0.5,
            CheckpointEvery = 2,
        };
        var metrics = new List<IReadOnlyDictionary<string, double>>();
        IReadOnlyList<string> samples;
        IReadOnlyList<CollectedPrompt> collected;
        using (var attack = new ReinforceAttack(fixture.SftDir, new AttackerContext(), scorer, options, fixture.Temp("rl-full")))
        {
            attack.Run((_, m) => metrics.Add(m));
            Assert.Equal(4, metrics.Count);
            Assert.Equal(4 * 8, attack.Collected.Count);                                  // batch × k prompts per step, all kept
            Assert.All(attack.Collected, c => Assert.InRange(c.MeanHarm, 0, 1));
            Assert.All(metrics, m => Assert.True(double.IsFinite(m["loss"]) && double.IsFinite(m["kl"])));
            Assert.True(metrics[0]["reward/mean"] > attack.Collected.Take(8).Average(c => c.MeanHarm) - 1e-9);   // the novelty bonus only adds
            samples = attack.Sample(8, seed: 1);
            collected = [.. attack.Collected];
        }
        Assert.Equal(8, samples.Count);

        var resumed = new List<IReadOnlyDictionary<string, double>>();
        using (var attack = new ReinforceAttack(fixture.SftDir, new AttackerContext(), scorer, options, fixture.Temp("rl-split")))
            attack.Run((_, m) => resumed.Add(m), stopAfter: 2);
        Assert.True(File.Exists(Path.Combine(fixture.Temp("rl-split"), ReinforceAttack.CheckpointDir, ReinforceAttack.NoveltyFile)));
        using (var attack = new ReinforceAttack(fixture.SftDir, new AttackerContext(), scorer, options, fixture.Temp("rl-split"), resume: true))
        {
            Assert.Equal(2, attack.NextStep);
            Assert.Equal(16, attack.Collected.Count);
            attack.Run((_, m) => resumed.Add(m));
            Assert.Equal(4, attack.NextStep);
            Assert.Equal(collected, attack.Collected);
            Assert.Equal(samples, attack.Sample(8, seed: 1));
        }
        Assert.Equal(metrics.Count, resumed.Count);
        for (int i = 0; i < metrics.Count; i++)
            foreach (var key in new[] { "reward/mean", "reward/std", "kl", "loss", "grad_norm", "lr", "completion/length" })
                Assert.True(metrics[i][key] == resumed[i][key], $"step {i} {key}: uninterrupted {metrics[i][key]}, resumed {resumed[i][key]}");
        output.WriteLine($"REINFORCE reward/mean per step: {string.Join(" ", metrics.Select(m => m["reward/mean"].ToString("F3")))} (resumed run identical)");
    }

    [Fact]
    public void Seed_files_and_smoothing_selection_are_strict_and_dedupe()
    {
        string path = fixture.Temp("bad.jsonl");
        File.WriteAllText(path, "{\"prompt\": \"ok\"}\n{\"text\": \"no prompt\"}\n");
        Assert.Contains("bad.jsonl:2", Assert.Throws<InvalidDataException>(() => SeedAttackPrompt.ReadPrompts(path)).Message);
        File.WriteAllText(path, "\n\n");
        Assert.Contains("no seed prompts", Assert.Throws<InvalidDataException>(() => SeedAttackPrompt.Read(path)).Message);
        Assert.Throws<FileNotFoundException>(() => SeedAttackPrompt.Read(fixture.Temp("missing.jsonl")));
        var picked = MleSmoothing.Select(
            [new("a ", 0.9, -10, 0), new("a", 0.95, -10, 1), new("b", 0.6, -10, 1), new("c", 0.99, -500, 2)], new SmoothingOptions());
        Assert.Equal([("a", 0.95)], picked.Select(p => (p.Prompt, p.MeanHarm)));
    }
}
