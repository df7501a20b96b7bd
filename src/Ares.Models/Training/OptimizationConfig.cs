namespace Ares.Models.Training;

/// <summary>
/// The optimisation and batching settings every trainer shares (AdamW, its LR schedule, clipping,
/// batches and steps). Each algorithm's config derives from it and passes its own defaults for the
/// learning rate and batch size, which differ by algorithm; the rest follow HF's Trainer.
/// </summary>
internal abstract record OptimizationConfig
{
    protected OptimizationConfig(double learningRate, int batchSize)
    {
        LearningRate = learningRate;
        BatchSize = batchSize;
    }

    // ---- optimisation
    /// <summary>Peak learning rate; each config's constructor gives its default and why.</summary>
    public double LearningRate { get; init; }
    /// <summary>Decay after warm-up; HF's default is linear to 0.</summary>
    public LrScheduleKind Schedule { get; init; } = LrScheduleKind.Linear;
    /// <summary>Linear warm-up steps; lets AdamW's second-moment estimates settle before full-size steps.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>Decoupled AdamW decay on weight matrices (not biases or norms); HF's default is 0.</summary>
    public double WeightDecay { get; init; }
    /// <summary>AdamW's moment decay rates; HF's defaults.</summary>
    public (double Beta1, double Beta2) Betas { get; init; } = (0.9, 0.999);
    /// <summary>AdamW's denominator guard; HF's default.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Clip the global gradient norm to this (HF's default 1.0); ≤ 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    // ---- batching
    /// <summary>Examples per forward pass (sequences, pairs or prompts: each config says which); default set by its constructor.</summary>
    public int BatchSize { get; init; }
    /// <summary>Forward passes per optimizer step; the effective batch is BatchSize × GradientAccumulation.</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Optimizer steps to run (data is reshuffled and reused as needed).</summary>
    public int MaxSteps { get; init; } = 100;
    /// <summary>Seeds data order, and where the trainer draws randomness (LoRA dropout, sampling) libtorch's generator too.</summary>
    public long Seed { get; init; } = 42;

    public LrSchedule LrSchedule => new(Schedule, LearningRate, WarmupSteps, MaxSteps);

    /// <summary>Checks the shared settings; each error names the field as <c>{configName}.{Field}</c>.</summary>
    protected void ValidateOptimization(string configName)
    {
        void Fail(string field, string rule, object value) => throw new ArgumentException($"{configName}.{field}: {rule}, got {value}");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) Fail(nameof(LearningRate), "learning rate must be > 0 and finite", LearningRate);
        if (WarmupSteps < 0) Fail(nameof(WarmupSteps), "warm-up steps must be ≥ 0", WarmupSteps);
        if (MaxSteps < 1) Fail(nameof(MaxSteps), "max steps must be ≥ 1", MaxSteps);
        if (WeightDecay < 0) Fail(nameof(WeightDecay), "weight decay must be ≥ 0", WeightDecay);
        if (Betas.Beta1 is < 0 or >= 1 || Betas.Beta2 is < 0 or >= 1) Fail(nameof(Betas), "AdamW betas must be in [0, 1)", Betas);
        if (!(Eps > 0)) Fail(nameof(Eps), "AdamW eps must be > 0", Eps);
        if (BatchSize < 1) Fail(nameof(BatchSize), "batch size must be ≥ 1", BatchSize);
        if (GradientAccumulation < 1) Fail(nameof(GradientAccumulation), "gradient accumulation must be ≥ 1", GradientAccumulation);
    }
}
