using Ares.Models.Lora;
using Ares.Models.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class TrainingTests
{
    [Fact]
    public void Lr_schedules_warm_up_linearly_then_hold_or_decay()
    {
        // peak 1, warm-up 4 steps, 10 in all: warm-up gives 0.25, 0.5, 0.75, 1; decay runs over steps 4..10.
        var constant = new LrSchedule(LrScheduleKind.Constant, 1.0, 4, 10);
        var linear = new LrSchedule(LrScheduleKind.Linear, 1.0, 4, 10);
        var cosine = new LrSchedule(LrScheduleKind.Cosine, 1.0, 4, 10, MinLr: 0.1);
        double[] warm = [0.25, 0.5, 0.75];
        for (int s = 0; s < 3; s++)
        {
            Assert.Equal(warm[s], constant.At(s), 12);
            Assert.Equal(warm[s], linear.At(s), 12);
            Assert.Equal(warm[s], cosine.At(s), 12);
        }
        Assert.Equal(1.0, constant.At(9), 12);
        Assert.Equal(1.0, linear.At(4), 12);          // progress 0
        Assert.Equal(0.5, linear.At(7), 12);          // progress 3/6
        Assert.Equal(1.0 / 6, linear.At(9), 12);      // progress 5/6
        Assert.Equal(1.0, cosine.At(4), 12);
        Assert.Equal(0.55, cosine.At(7), 12);         // 0.1 + 0.9·½(1 + cos(π/2))
        Assert.Equal(0.1 + 0.45 * (1 + Math.Cos(Math.PI / 3)), cosine.At(6), 12); // progress 2/6 → 0.775
        Assert.Equal(0.1, cosine.At(10), 12);
        Assert.Equal(1.0, new LrSchedule(LrScheduleKind.Linear, 1.0, 0, 10).At(0), 12);
    }

    [Fact]
    public void Next_token_cross_entropy_matches_hand_computed_value()
    {
        // Row t=0: uniform over 3 → −log(1/3) = ln 3. Row t=1: logits (0, ln 2, 0) → p(1) = 2/4 → ln 2.
        // Row t=2 is masked out; its target would be costly.
        using var logits = tensor(new float[] { 0, 0, 0, 0, MathF.Log(2), 0, 10, -10, 0 }).reshape(1, 3, 3); // (B, T, V)
        using var targets = tensor(new long[] { 1, 1, 1 }).reshape(1, 3);
        using var mask = tensor(new[] { true, true, false }).reshape(1, 3);
        using var mean = Losses.NextTokenCrossEntropy(logits, targets, mask);
        Assert.Equal(Math.Log(6) / 2, mean.item<float>(), 5);
        using var perToken = Losses.NextTokenCrossEntropy(logits, targets, mask, tokenCount: 4);
        Assert.Equal(Math.Log(6) / 4, perToken.item<float>(), 5);
    }

    [Fact]
    public void Clipping_scales_gradients_to_max_norm_and_returns_the_norm_before()
    {
        using var a = new TorchSharp.Modules.Parameter(zeros(2));
        using var b = new TorchSharp.Modules.Parameter(zeros(1));
        a.grad = tensor(new float[] { 3, 0 });
        b.grad = tensor(new float[] { 4 });                      // global norm 5
        Assert.Equal(5.0, Gradients.ClipGlobalNorm([a, b], 1.0), 5);
        Assert.Equal(0.6, a.grad!.data<float>()[0], 4);
        Assert.Equal(0.8, b.grad!.data<float>()[0], 4);
        Assert.Equal(1.0, Gradients.ClipGlobalNorm([a, b], 0), 4);  // off: measures only
        Assert.Equal(0.6, a.grad!.data<float>()[0], 4);
    }

    [Fact]
    public void AdamW_decays_matrices_but_not_norm_weights_or_frozen_parameters()
    {
        using var model = TrainingModels.Llama();
        var (decay, noDecay) = OptimizerFactory.SplitForWeightDecay(model);
        Assert.Contains(decay, d => d.Name == "model.layers.0.self_attn.q_proj.weight");
        Assert.Contains(decay, d => d.Name == "model.embed_tokens.weight");
        Assert.All(noDecay, d => Assert.Matches(@"(norm|layernorm)\.weight$", d.Name));
        Assert.Equal(model.named_parameters().Count(), decay.Count + noDecay.Count);

        LoraAdapters.Apply(model, new LoraConfig { Rank = 2, TargetModules = ["q_proj"] });
        (decay, noDecay) = OptimizerFactory.SplitForWeightDecay(model);
        Assert.Empty(noDecay);
        Assert.All(decay, d => Assert.Matches(@"\.lora_[AB]\.weight$", d.Name));
        using var optimizer = OptimizerFactory.AdamW(model, 1e-3, weightDecay: 0.1);
        Assert.Single(optimizer.ParamGroups);
    }

    [Fact]
    public void Four_accumulated_batches_of_two_give_the_gradient_of_one_batch_of_eight()
    {
        // Uneven lengths, so per-micro-batch means × 1/accum would differ from the batch mean.
        var data = Enumerable.Range(0, 8).Select(i => new SftExample([1, 3 + i], Enumerable.Range(4, 1 + i % 4).ToArray())).ToList();
        using var model = TrainingModels.Llama();
        Dictionary<string, Tensor> Gradients(int batchSize, int accumulation)
        {
            using var trainer = new SftTrainer(model, new SftConfig { BatchSize = batchSize, GradientAccumulation = accumulation });
            model.zero_grad();
            trainer.AccumulateGradients(data);
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var small = Gradients(2, 4);
        var large = Gradients(8, 1);
        foreach (var (name, g) in large)
            Assert.True(g.allclose(small[name], rtol: 0, atol: 1e-5), $"{name}: max |Δ| = {(g - small[name]).abs().max().item<float>()}");
    }

    [Fact]
    public void Same_seed_gives_identical_losses()
    {
        List<double> Run()
        {
            using var model = TrainingModels.Llama();
            LoraAdapters.Apply(model, new LoraConfig { Dropout = 0 });
            using var trainer = new SftTrainer(model, new SftConfig { BatchSize = 4, MaxSteps = 5, LearningRate = 1e-2, Seed = 3 });
            var losses = new List<double>();
            trainer.Train(TrainingModels.CountingTask(12), (_, m) => losses.Add(m["loss"]));
            return losses;
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Sft_learns_the_counting_task()
    {
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, new LoraConfig { Rank = 8, Alpha = 16, Dropout = 0, TargetModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] });
        var config = new SftConfig { BatchSize = 8, MaxSteps = 60, LearningRate = 1e-2, WarmupSteps = 5, Schedule = LrScheduleKind.Cosine };
        using var trainer = new SftTrainer(model, config);
        var metrics = new List<IReadOnlyDictionary<string, double>>();
        trainer.Train(TrainingModels.CountingTask(64), (_, m) => metrics.Add(m));
        Assert.Equal(60, metrics.Count);
        Assert.All(metrics, m => Assert.Equal(["grad_norm", "loss", "lr", "tokens_per_s"], m.Keys.Order()));
        double first = metrics[0]["loss"], last = metrics.TakeLast(5).Average(m => m["loss"]);
        Assert.True(last < 0.3 * first, $"loss went from {first:F3} to {last:F3}");
    }

    [Fact]
    public void A_training_step_leaks_no_tensors()
    {
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, new LoraConfig { Rank = 4 });
        using var trainer = new SftTrainer(model, new SftConfig { BatchSize = 4, GradientAccumulation = 2, MaxSteps = 12 });
        var live = new List<long>();
        trainer.Train(TrainingModels.CountingTask(16), (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        Assert.Equal(live[2], live[^1]);    // steps 0–1 create AdamW's state and the gradients
    }

    [Fact]
    public void Training_bf16_parameters_directly_is_refused()
    {
        using var model = TrainingModels.Llama(dtype: ScalarType.BFloat16);
        var e = Assert.Throws<NotSupportedException>(() => new SftTrainer(model, new SftConfig()));
        Assert.Contains("BFloat16", e.Message);
    }

    [Fact]
    public void Lora_over_a_bf16_base_trains_fp32_adapters()
    {
        using var model = TrainingModels.Llama(dtype: ScalarType.BFloat16);
        LoraAdapters.Apply(model, new LoraConfig { Dropout = 0, TargetModules = ["q_proj", "v_proj", "down_proj"] });
        Assert.All(model.named_parameters().Where(p => p.parameter.requires_grad), p => Assert.Equal(ScalarType.Float32, p.parameter.dtype));
        using var trainer = new SftTrainer(model, new SftConfig { BatchSize = 8, MaxSteps = 30, LearningRate = 1e-2 });
        var losses = new List<double>();
        trainer.Train(TrainingModels.CountingTask(32), (_, m) => losses.Add(m["loss"]));
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses.TakeLast(3).Average() < 0.8 * losses[0], $"loss went from {losses[0]:F3} to {losses[^1]:F3}");
    }
}
