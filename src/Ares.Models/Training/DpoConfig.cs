namespace Ares.Models.Training;

/// <summary>One preference: after <see cref="PromptIds"/>, <see cref="ChosenIds"/> is preferred to <see cref="RejectedIds"/>.</summary>
internal sealed record PreferenceExample(int[] PromptIds, int[] ChosenIds, int[] RejectedIds);

/// <summary>
/// Direct preference optimisation (Rafailov et al. 2023, eq. 7): fit the policy to preference pairs
/// through the implicit reward β·log(π/π_ref), no reward model or sampling. Defaults follow TRL's
/// DPOConfig (sigmoid loss, summed log-probs) unless noted.
/// </summary>
internal sealed record DpoConfig
{
    // ---- objective
    /// <summary>β: the inverse strength of the KL anchor to the reference; TRL's default.</summary>
    public double Beta { get; init; } = 0.1;
    /// <summary>cDPO's assumed rate of flipped labels ε in [0, 0.5); 0 is plain DPO.</summary>
    public double LabelSmoothing { get; init; }

    // ---- optimisation
    /// <summary>Peak learning rate; 1e-5 suits LoRA, full fine-tuning wants ~1e-6 (TRL's default) or less.</summary>
    public double LearningRate { get; init; } = 1e-5;
    public LrScheduleKind Schedule { get; init; } = LrScheduleKind.Linear;
    public int WarmupSteps { get; init; }
    public double WeightDecay { get; init; }
    public (double Beta1, double Beta2) Betas { get; init; } = (0.9, 0.999);
    public double Eps { get; init; } = 1e-8;
    /// <summary>Clip the global gradient norm to this; ≤ 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    // ---- batching
    /// <summary>Pairs per micro-batch (2 × BatchSize sequences per forward: chosen and rejected together).</summary>
    public int BatchSize { get; init; } = 8;
    public int GradientAccumulation { get; init; } = 1;
    public int MaxSteps { get; init; } = 100;
    /// <summary>Prompt + completion tokens kept; completions lose their end, a prompt that leaves no room is refused. Capped at the model's context.</summary>
    public int MaxLength { get; init; } = 512;
    /// <summary>Seeds data order.</summary>
    public long Seed { get; init; } = 42;

    public LrSchedule LrSchedule => new(Schedule, LearningRate, WarmupSteps, MaxSteps);

    public void Validate()
    {
        LrSchedule.Validate();
        if (!(Beta > 0) || double.IsInfinity(Beta)) throw new ArgumentException($"DPO's beta must be > 0 and finite, got {Beta}");
        if (LabelSmoothing is < 0 or >= 0.5 || double.IsNaN(LabelSmoothing)) throw new ArgumentException($"label smoothing must be in [0, 0.5), got {LabelSmoothing}");
        if (WeightDecay < 0) throw new ArgumentException($"weight decay must be ≥ 0, got {WeightDecay}");
        if (Betas.Beta1 is < 0 or >= 1 || Betas.Beta2 is < 0 or >= 1) throw new ArgumentException($"AdamW betas must be in [0, 1), got {Betas}");
        if (!(Eps > 0)) throw new ArgumentException($"AdamW eps must be > 0, got {Eps}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be ≥ 1, got {BatchSize}");
        if (GradientAccumulation < 1) throw new ArgumentException($"gradient accumulation must be ≥ 1, got {GradientAccumulation}");
        if (MaxLength < 2) throw new ArgumentException($"max length must be ≥ 2 (a prompt and a completion token), got {MaxLength}");
    }
}
