namespace Ares.Models.Training;

/// <summary>One labelled sequence: the token ids (e.g. an encoded exchange) and its class index.</summary>
internal sealed record ClassifierExample(int[] Ids, int Label);

/// <summary>
/// Sequence classification (HF's *ForSequenceClassification fine-tuning): the `score` head read at
/// the last token, trained with cross-entropy over num_labels classes. Defaults follow HF unless noted.
/// </summary>
internal sealed record ClassifierConfig
{
    // ---- optimisation
    /// <summary>Peak learning rate. 2e-4 suits LoRA; ~2e-5 for full fine-tuning of a pretrained model; higher only from scratch.</summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>Decay after warm-up; HF's default is linear to 0.</summary>
    public LrScheduleKind Schedule { get; init; } = LrScheduleKind.Linear;
    /// <summary>Linear warm-up steps; lets AdamW's second-moment estimates settle before full-size steps.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>Decoupled AdamW decay on weight matrices (not biases or norms); HF's default is 0.</summary>
    public double WeightDecay { get; init; }
    public (double Beta1, double Beta2) Betas { get; init; } = (0.9, 0.999);
    public double Eps { get; init; } = 1e-8;
    /// <summary>Clip the global gradient norm to this (HF's default 1.0); ≤ 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    // ---- batching
    /// <summary>Sequences per forward pass.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Forward passes per optimizer step; the effective batch is BatchSize × GradientAccumulation.</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Optimizer steps to run (data is reshuffled and reused as needed).</summary>
    public int MaxSteps { get; init; } = 100;
    /// <summary>Tokens kept per sequence; longer ones lose their end. Capped at the model's context.</summary>
    public int MaxLength { get; init; } = 512;

    // ---- data
    /// <summary>Seeds data order and libtorch's generator (LoRA dropout).</summary>
    public long Seed { get; init; } = 42;

    public LrSchedule LrSchedule => new(Schedule, LearningRate, WarmupSteps, MaxSteps);

    public void Validate()
    {
        LrSchedule.Validate();
        if (WeightDecay < 0) throw new ArgumentException($"weight decay must be ≥ 0, got {WeightDecay}");
        if (Betas.Beta1 is < 0 or >= 1 || Betas.Beta2 is < 0 or >= 1) throw new ArgumentException($"AdamW betas must be in [0, 1), got {Betas}");
        if (!(Eps > 0)) throw new ArgumentException($"AdamW eps must be > 0, got {Eps}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be ≥ 1, got {BatchSize}");
        if (GradientAccumulation < 1) throw new ArgumentException($"gradient accumulation must be ≥ 1, got {GradientAccumulation}");
        if (MaxLength < 1) throw new ArgumentException($"max length must be ≥ 1, got {MaxLength}");
    }
}
