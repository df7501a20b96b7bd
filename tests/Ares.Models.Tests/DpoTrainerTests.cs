using Ares.Models.Lora;
using Ares.Models.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class DpoTrainerTests
{
    static readonly LoraConfig Adapters = new() { Rank = 8, Alpha = 16, Dropout = 0, TargetModules = ["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"] };

    /// <summary>Counting continuations (chosen) against random tokens (rejected), after prompts [1, a].</summary>
    static List<PreferenceExample> Preferences(int count, int length = 4, int seed = 11)
    {
        var rng = new Random(seed);
        return TrainingModels.CountingTask(count, length, seed).Select(e =>
            new PreferenceExample(e.PromptIds, e.CompletionIds, Enumerable.Range(0, length).Select(_ => rng.Next(3, 32)).ToArray())).ToList();
    }

    [Fact]
    public void Two_accumulated_micro_batches_of_two_pairs_give_the_gradient_of_one_batch_of_four()
    {
        // Uneven prompt and completion lengths; a separate reference with other weights.
        List<PreferenceExample> data =
        [
            new([1, 3], [4, 5, 6], [9]),
            new([1, 8, 2], [9], [30, 31, 2, 2]),
            new([1], [5, 5], [6, 7]),
            new([1, 12, 13, 14], [15, 16, 17, 18, 19], [3, 3]),
        ];
        using var model = TrainingModels.Llama(seed: 1);
        using var reference = TrainingModels.Llama(seed: 2);
        Dictionary<string, Tensor> Gradients(int batchSize, int accumulation)
        {
            using var trainer = new DpoTrainer(model, new DpoConfig { BatchSize = batchSize, GradientAccumulation = accumulation, LabelSmoothing = 0.1 }, reference);
            model.zero_grad();
            trainer.Pass(data, train: true);
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var small = Gradients(2, 2);
        var large = Gradients(4, 1);
        Assert.Contains(large.Values, g => g.abs().max().item<float>() > 1e-4);
        foreach (var (name, g) in large)
            Assert.True(g.allclose(small[name], rtol: 0, atol: 1e-5), $"{name}: max |Δ| = {(g - small[name]).abs().max().item<float>()}");
    }

    [Fact]
    public void Dpo_learns_to_prefer_the_chosen_completions_and_leaves_the_base_untouched()
    {
        var data = Preferences(16);
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, Adapters);
        var before = TrainingModels.Snapshot(model);
        using var trainer = new DpoTrainer(model, new DpoConfig { BatchSize = 8, MaxSteps = 30, LearningRate = 1e-2, Schedule = LrScheduleKind.Constant });
        var start = trainer.Evaluate(data);
        Assert.Equal(0, start["rewards/margin"]);            // fresh adapters: policy = reference
        Assert.Equal(Math.Log(2), start["loss"], 5);         // −log σ(0)
        var metrics = new List<IReadOnlyDictionary<string, double>>();
        trainer.Train(data, (_, m) => metrics.Add(m));
        Assert.All(metrics, m => Assert.Equal(
            ["grad_norm", "loss", "lr", "rewards/accuracy", "rewards/chosen", "rewards/margin", "rewards/rejected"], m.Keys.Order()));
        var end = trainer.Evaluate(data);
        Assert.True(end["rewards/accuracy"] >= 0.9, $"accuracy {end["rewards/accuracy"]:F3}");
        Assert.True(end["rewards/margin"] > 1, $"margin {end["rewards/margin"]:F3}");
        Assert.True(metrics.TakeLast(5).Average(m => m["rewards/margin"]) > metrics.Take(5).Average(m => m["rewards/margin"]));
        Assert.True(end["loss"] < 0.5 * start["loss"], $"loss went from {start["loss"]:F3} to {end["loss"]:F3}");
        foreach (var (name, p) in model.named_parameters())
            if (!name.Contains(".lora_")) Assert.True(TrainingModels.Identical(before[name], p), $"{name} changed");
    }

    [Fact]
    public void A_training_step_leaks_no_tensors()
    {
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, Adapters);
        using var trainer = new DpoTrainer(model, new DpoConfig { BatchSize = 4, GradientAccumulation = 2, MaxSteps = 8 });
        var live = new List<long>();
        trainer.Train(Preferences(12), (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        Assert.Equal(live[2], live[^1]);    // steps 0–1 create AdamW's state and the gradients
    }

    [Fact]
    public void Prompts_that_leave_no_room_and_empty_completions_are_refused()
    {
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, Adapters);
        using var trainer = new DpoTrainer(model, new DpoConfig { MaxLength = 4 });
        var e = Assert.Throws<ArgumentException>(() => trainer.Evaluate([new PreferenceExample([1, 2, 3, 4], [5], [6])]));
        Assert.Contains("max length 4", e.Message);
        Assert.Throws<ArgumentException>(() => trainer.Evaluate([new PreferenceExample([1], [], [6])]));
        var cut = trainer.Evaluate([new PreferenceExample([1, 2], [5, 6, 7, 8], [6])]);  // chosen cut to 2 tokens
        Assert.True(double.IsFinite(cut["loss"]));
    }
}
