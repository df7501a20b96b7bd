using Ares.Models.Generation;
using Ares.Models.Lora;
using Ares.Models.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class PolicyRlTrainerTests
{
    const int Target = 12;   // the random policy's completions contain it ~10% of the time
    static readonly LoraConfig Adapters = new() { Rank = 8, Alpha = 16, Dropout = 0, TargetModules = ["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"] };

    /// <summary>Toy reward: 1 when the completion contains the target token, else 0.</summary>
    static IReadOnlyList<double> ContainsTarget(IReadOnlyList<(int[] Prompt, int[] Completion)> pairs) =>
        pairs.Select(p => p.Completion.Contains(Target) ? 1.0 : 0.0).ToList();

    static List<int[]> Prompts(int count) => Enumerable.Range(0, count).Select(i => new[] { 1, 3 + i }).ToList();

    static PolicyRlConfig Toy => new()
    {
        CompletionsPerPrompt = 4,
        MaxNewTokens = 5,
        BatchSize = 4,
        MaxSteps = 40,
        LearningRate = 2e-2,
        Schedule = LrScheduleKind.Constant,
        Seed = 5,
    };

    static List<IReadOnlyDictionary<string, double>> Run(PolicyRlConfig config)
    {
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, Adapters);
        using var trainer = new PolicyRlTrainer(model, config);
        var metrics = new List<IReadOnlyDictionary<string, double>>();
        trainer.Train(Prompts(8), ContainsTarget, (_, m) => metrics.Add(m));
        return metrics;
    }

    /// <summary>4 prompts of uneven length, 2 completions each of uneven length, fixed rewards: no sampling.</summary>
    static Rollouts FixedRollouts() => new(
        [[1, 3], [1, 4, 9], [1, 5], [1, 6, 2, 8]],
        [[7, 7, 2], [4], [9, 10], [11, 12, 13, 14], [5], [5, 6], [20, 21, 22], [3]],
        [1.0, 0.0, 0.5, -1.0, 2.0, 0.0, 0.3, 0.9]);

    [Theory]
    [InlineData(false)]   // RLOO, KL in the reward, summed log-probs
    [InlineData(true)]    // GRPO, per-token k3 in the loss, length-normalised
    public void Two_accumulated_micro_batches_of_two_prompts_give_the_gradient_of_one_batch_of_four(bool grpo)
    {
        // A separate reference with other weights, so the KL terms are not zero.
        using var model = TrainingModels.Llama(seed: 1);
        using var reference = TrainingModels.Llama(seed: 2);
        var rollouts = FixedRollouts();
        Dictionary<string, Tensor> Gradients(int batchSize, int accumulation)
        {
            var config = new PolicyRlConfig
            {
                CompletionsPerPrompt = 2,
                BatchSize = batchSize,
                GradientAccumulation = accumulation,
                Beta = 0.3,
                Advantage = grpo ? AdvantageKind.Grpo : AdvantageKind.Rloo,
                KlPenalty = grpo ? KlPenalty.PerTokenK3 : KlPenalty.InReward,
                LengthNormalised = grpo,
            };
            using var trainer = new PolicyRlTrainer(model, config, reference);
            model.zero_grad();
            trainer.AccumulateGradients(rollouts);
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var small = Gradients(2, 2);
        var large = Gradients(4, 1);
        Assert.Contains(large.Values, g => g.abs().max().item<float>() > 1e-4);   // a real gradient, not zeros
        foreach (var (name, g) in large)
            Assert.True(g.allclose(small[name], rtol: 0, atol: 1e-5), $"{name}: max |Δ| = {(g - small[name]).abs().max().item<float>()}");
    }

    [Fact]
    public void Rloo_raises_the_reward_of_a_tiny_model_while_kl_stays_finite()
    {
        var metrics = Run(Toy with { Beta = 0.05 });
        Assert.Equal(40, metrics.Count);
        Assert.All(metrics, m => Assert.Equal(
            ["advantage/mean", "completion/length", "grad_norm", "kl", "loss", "lr", "reward/mean", "reward/std"], m.Keys.Order()));
        Assert.Equal(0, metrics[0]["kl"], 6);                                            // step 0 samples before any update: B = 0, policy = reference
        Assert.All(metrics, m => Assert.True(double.IsFinite(m["kl"]) && m["kl"] >= 0, $"kl = {m["kl"]}"));
        Assert.All(metrics, m => Assert.True(Math.Abs(m["advantage/mean"]) < 1e-5));     // leave-one-out advantages sum to 0 per group
        double first = metrics.Take(8).Average(m => m["reward/mean"]), last = metrics.TakeLast(8).Average(m => m["reward/mean"]);
        Assert.True(last > first + 0.5, $"mean reward went from {first:F3} to {last:F3}");
    }

    [Fact]
    public void Grpo_raises_the_reward_too()
    {
        var metrics = Run(Toy with { Advantage = AdvantageKind.Grpo, KlPenalty = KlPenalty.PerTokenK3, LengthNormalised = true, Beta = 0.04 });
        Assert.All(metrics, m => Assert.True(double.IsFinite(m["kl"]) && double.IsFinite(m["loss"])));
        double first = metrics.Take(8).Average(m => m["reward/mean"]), last = metrics.TakeLast(8).Average(m => m["reward/mean"]);
        Assert.True(last > first + 0.5, $"mean reward went from {first:F3} to {last:F3}");
    }

    [Fact]
    public void A_large_beta_keeps_the_policy_closer_to_the_reference()
    {
        static double FinalKl(double beta) => Run(Toy with { Beta = beta, MaxSteps = 30 }).TakeLast(10).Average(m => m["kl"]);
        double free = FinalKl(0), anchored = FinalKl(2);
        Assert.True(anchored < 0.5 * free, $"KL with β = 2: {anchored:F4}, with β = 0: {free:F4}");
    }

    [Fact]
    public void With_lora_the_base_stays_bit_identical_and_the_reference_is_the_original_model()
    {
        using var model = TrainingModels.Llama();
        var prompts = Prompts(4);
        List<int[]> probe = [[7, 7, 2, 9], [4, 5], [30], [8, 7]];
        Tensor original;
        using (no_grad()) (original, _) = SequenceScorer.ContinuationLogProbs(model, prompts, probe);
        LoraAdapters.Apply(model, Adapters);
        var before = TrainingModels.Snapshot(model);
        using (var trainer = new PolicyRlTrainer(model, Toy with { MaxSteps = 5 }))
        {
            trainer.Train(prompts, ContainsTarget);
            var (reference, _) = trainer.Reference.ContinuationLogProbs(prompts, probe);
            Assert.True(TrainingModels.Identical(original, reference));
        }
        foreach (var (name, p) in model.named_parameters())
        {
            bool same = TrainingModels.Identical(before[name], p);
            if (name.Contains(".lora_")) Assert.False(same, $"{name} did not train");
            else Assert.True(same, $"{name} changed");
        }
        using var noGrad = no_grad();
        var (policy, _) = SequenceScorer.ContinuationLogProbs(model, prompts, probe);
        Assert.False(TrainingModels.Identical(original, policy));                // adapters are back on afterwards
    }

    [Fact]
    public void A_training_step_leaks_no_tensors()
    {
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, Adapters);
        using var trainer = new PolicyRlTrainer(model, Toy with { BatchSize = 2, GradientAccumulation = 2, MaxSteps = 8 });
        var live = new List<long>();
        trainer.Train(Prompts(6), ContainsTarget, (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        Assert.Equal(live[2], live[^1]);    // steps 0–1 create AdamW's state and the gradients
    }

    [Fact]
    public void Same_seed_gives_identical_rewards()
    {
        static List<double> Rewards() => Run(Toy with { MaxSteps = 6 }).Select(m => m["reward/mean"] + m["loss"]).ToList();
        Assert.Equal(Rewards(), Rewards());
    }

    [Fact]
    public void Bad_setups_are_refused_with_the_reason()
    {
        using var model = TrainingModels.Llama();
        using var other = TrainingModels.Llama(seed: 2);
        var e = Assert.Throws<ArgumentException>(() => new PolicyRlTrainer(model, Toy));
        Assert.Contains("reference", e.Message);
        Assert.Throws<ArgumentException>(() => new PolicyRlTrainer(model, Toy, model));
        Assert.Throws<ArgumentException>(() => new PolicyRlTrainer(model, Toy with { CompletionsPerPrompt = 1 }, other));
        using var trainer = new PolicyRlTrainer(model, Toy, other);
        var wrong = Assert.Throws<InvalidOperationException>(() => trainer.Sample(0, Prompts(2), _ => [1.0]));
        Assert.Contains("1 rewards for 8 completions", wrong.Message);
        Assert.Throws<ArgumentException>(() => trainer.Sample(0, Prompts(1), pairs => pairs.Select(_ => double.NaN).ToList()));
    }
}
