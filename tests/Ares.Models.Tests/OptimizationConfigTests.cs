using Ares.Models.Training;

namespace Ares.Models.Tests;

public class OptimizationConfigTests
{
    [Fact]
    public void Each_config_keeps_its_own_learning_rate_and_batch_size_and_shares_the_rest()
    {
        OptimizationConfig[] configs = [new SftConfig(), new RewardConfig(), new ClassifierConfig(), new DpoConfig(), new PolicyRlConfig()];
        Assert.Equal([2e-4, 2e-4, 2e-4, 1e-5, 1e-5], configs.Select(c => c.LearningRate));
        Assert.Equal([8, 8, 8, 8, 4], configs.Select(c => c.BatchSize));
        Assert.All(configs, c =>
        {
            Assert.Equal(LrScheduleKind.Linear, c.Schedule);
            Assert.Equal(0, c.WarmupSteps);
            Assert.Equal(0, c.WeightDecay);
            Assert.Equal((0.9, 0.999), c.Betas);
            Assert.Equal(1e-8, c.Eps);
            Assert.Equal(1.0, c.MaxGradNorm);
            Assert.Equal(1, c.GradientAccumulation);
            Assert.Equal(100, c.MaxSteps);
            Assert.Equal(42, c.Seed);
        });
        // An initialiser overrides one field without resetting the algorithm's other defaults.
        var dpo = new DpoConfig { MaxSteps = 5 };
        Assert.Equal(1e-5, dpo.LearningRate);
        Assert.Equal(2e-5, (dpo with { LearningRate = 2e-5 }).LearningRate);
    }

    [Fact]
    public void Validation_errors_name_the_config_and_the_field()
    {
        Assert.StartsWith("SftConfig.WeightDecay:", Assert.Throws<ArgumentException>(() => new SftConfig { WeightDecay = -1 }.Validate()).Message);
        Assert.StartsWith("RewardConfig.LearningRate:", Assert.Throws<ArgumentException>(() => new RewardConfig { LearningRate = 0 }.Validate()).Message);
        Assert.StartsWith("ClassifierConfig.Betas:", Assert.Throws<ArgumentException>(() => new ClassifierConfig { Betas = (0.9, 1.0) }.Validate()).Message);
        Assert.StartsWith("DpoConfig.GradientAccumulation:", Assert.Throws<ArgumentException>(() => new DpoConfig { GradientAccumulation = 0 }.Validate()).Message);
        Assert.StartsWith("PolicyRlConfig.MaxSteps:", Assert.Throws<ArgumentException>(() => new PolicyRlConfig { MaxSteps = 0 }.Validate()).Message);
        Assert.StartsWith("DpoConfig.MaxLength:", Assert.Throws<ArgumentException>(() => new DpoConfig { MaxLength = 1 }.Validate()).Message);
    }

    [Fact]
    public void A_trainer_without_a_step_callback_still_trains()
    {
        // The step must not hide inside onStep?.Invoke(...), whose arguments are skipped when onStep is null.
        using var model = TinyModels.Create(TinyModels.Llama(vocab: 32, labels: 1));
        var before = model.parameters().Select(p => p.detach().clone()).ToList();
        using (var trainer = new RewardTrainer(model, new RewardConfig { BatchSize = 2, MaxSteps = 2, LearningRate = 1e-2 }))
            trainer.Train([new PreferencePair([1, 3, 5], [1, 4]), new PreferencePair([1, 6], [1, 7, 8])]);
        Assert.Contains(model.parameters().Zip(before), pair => !TrainingModels.Identical(pair.Second, pair.First));
        foreach (var t in before) t.Dispose();
    }
}
