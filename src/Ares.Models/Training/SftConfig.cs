namespace Ares.Models.Training;

/// <summary>One supervised example: the model learns to continue <see cref="PromptIds"/> with <see cref="CompletionIds"/>.</summary>
internal sealed record SftExample(int[] PromptIds, int[] CompletionIds);

/// <summary>
/// Supervised fine-tuning (TRL's SFTTrainer on prompt–completion data): minimise the next-token
/// cross-entropy of the completion given the prompt. Defaults follow TRL/HF unless noted.
/// </summary>
internal sealed record SftConfig
{
    // ---- optimisation
    /// <summary>Peak learning rate. 2e-4 suits LoRA (PEFT's examples); use ~2e-5 for full fine-tuning (TRL's default).</summary>
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
    /// <summary>Sequences per forward pass (HF's per_device_train_batch_size).</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Forward passes per optimizer step; the effective batch is BatchSize × GradientAccumulation.</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Optimizer steps to run (data is reshuffled and reused as needed).</summary>
    public int MaxSteps { get; init; } = 100;
    /// <summary>Prompt + completion tokens kept per example; longer ones lose their end (TRL truncates right). Capped at the model's context.</summary>
    public int MaxLength { get; init; } = 512;

    // ---- data
    /// <summary>Loss on completion tokens only (TRL's default for prompt–completion data) or on the whole text.</summary>
    public bool CompletionOnlyLoss { get; init; } = true;
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
        if (MaxLength < 2) throw new ArgumentException($"max length must be ≥ 2 (one input and one target token), got {MaxLength}");
    }
}
