namespace Ares.Models.Training;

/// <summary>
/// One preference: the full token ids of (prompt, chosen response) and (prompt, rejected response),
/// each encoded as the reward model reads an exchange (see Loading.ChatEncoding.Exchange).
/// </summary>
internal sealed record PreferencePair(int[] ChosenIds, int[] RejectedIds)
{
    /// <summary>Optional lead the chosen reward should have over the rejected one (Llama 2's margin loss); 0 = plain Bradley–Terry.</summary>
    public double Margin { get; init; }
}

/// <summary>
/// Reward modelling (TRL's RewardTrainer): fit a scalar `score` head so that r(chosen) > r(rejected),
/// minimising the Bradley–Terry loss −log σ(r_c − r_r − margin) (Ouyang et al. 2022, eq. 1). Defaults
/// follow TRL/HF unless noted.
/// </summary>
internal sealed record RewardConfig
{
    // ---- optimisation
    /// <summary>Peak learning rate. 2e-4 suits LoRA; use ~1e-5 to fine-tune a pretrained RM in full; higher only from scratch.</summary>
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
    /// <summary>Weight of the reward-centring term mean((r_c + r_r)²) (Eisenstein et al. 2023; TRL's center_rewards_coefficient, off by default).</summary>
    public double CenterRewardsCoefficient { get; init; }

    // ---- batching
    /// <summary>Pairs per forward pass (each pair is two sequences, scored in one forward).</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Forward passes per optimizer step; the effective batch is BatchSize × GradientAccumulation pairs.</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Optimizer steps to run (data is reshuffled and reused as needed).</summary>
    public int MaxSteps { get; init; } = 100;
    /// <summary>Tokens kept per sequence; longer ones lose their end (keep the prompt and the start of the answer). Capped at the model's context.</summary>
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
        if (CenterRewardsCoefficient < 0) throw new ArgumentException($"reward-centring coefficient must be ≥ 0, got {CenterRewardsCoefficient}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be ≥ 1, got {BatchSize}");
        if (GradientAccumulation < 1) throw new ArgumentException($"gradient accumulation must be ≥ 1, got {GradientAccumulation}");
        if (MaxLength < 1) throw new ArgumentException($"max length must be ≥ 1, got {MaxLength}");
    }
}
