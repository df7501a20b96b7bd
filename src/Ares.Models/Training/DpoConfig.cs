namespace Ares.Models.Training;

/// <summary>One preference: after <see cref="PromptIds"/>, <see cref="ChosenIds"/> is preferred to <see cref="RejectedIds"/>.</summary>
internal sealed record PreferenceExample(int[] PromptIds, int[] ChosenIds, int[] RejectedIds);

/// <summary>
/// Direct preference optimisation (Rafailov et al. 2023, eq. 7): fit the policy to preference pairs
/// through the implicit reward β·log(π/π_ref), no reward model or sampling. Defaults follow TRL's
/// DPOConfig (sigmoid loss, summed log-probs) unless noted; the optimisation and batching settings are
/// <see cref="OptimizationConfig"/>'s (BatchSize counts pairs: 2 × BatchSize sequences per forward,
/// chosen and rejected together; Seed only orders the data).
/// </summary>
internal sealed record DpoConfig : OptimizationConfig
{
    /// <summary>Learning rate 1e-5 suits LoRA, full fine-tuning wants ~1e-6 (TRL's default) or less. 8 pairs per micro-batch.</summary>
    public DpoConfig() : base(learningRate: 1e-5, batchSize: 8) { }

    // ---- objective
    /// <summary>β: the inverse strength of the KL anchor to the reference; TRL's default.</summary>
    public double Beta { get; init; } = 0.1;
    /// <summary>cDPO's assumed rate of flipped labels ε in [0, 0.5); 0 is plain DPO.</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Prompt + completion tokens kept; completions lose their end, a prompt that leaves no room is refused. Capped at the model's context.</summary>
    public int MaxLength { get; init; } = 512;

    public void Validate()
    {
        ValidateOptimization(nameof(DpoConfig));
        if (!(Beta > 0) || double.IsInfinity(Beta)) throw new ArgumentException($"{nameof(DpoConfig)}.{nameof(Beta)}: DPO's beta must be > 0 and finite, got {Beta}");
        if (LabelSmoothing is < 0 or >= 0.5 || double.IsNaN(LabelSmoothing)) throw new ArgumentException($"{nameof(DpoConfig)}.{nameof(LabelSmoothing)}: label smoothing must be in [0, 0.5), got {LabelSmoothing}");
        if (MaxLength < 2) throw new ArgumentException($"{nameof(DpoConfig)}.{nameof(MaxLength)}: max length must be ≥ 2 (a prompt and a completion token), got {MaxLength}");
    }
}
