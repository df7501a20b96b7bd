namespace Ares.Models.Training;

/// <summary>How a group's rewards become per-completion advantages.</summary>
internal enum AdvantageKind
{
    /// <summary>r_i − mean of the other k − 1 rewards (RLOO, Ahmadian et al. 2024).</summary>
    Rloo,
    /// <summary>(r_i − mean) / (std + ε) within the group (GRPO, Shao et al. 2024).</summary>
    Grpo,
}

/// <summary>Where the KL(π ‖ π_ref) penalty enters.</summary>
internal enum KlPenalty
{
    /// <summary>Subtracted from the reward before advantages: r − β·Σ_t (log π − log π_ref), as TRL's RLOO does.</summary>
    InReward,
    /// <summary>Added to the loss per token with the k3 estimator, β·(exp(ref − logp) − (ref − logp) − 1), as GRPO does.</summary>
    PerTokenK3,
}

/// <summary>
/// Group-baseline policy optimisation against a scalar reward: k completions per prompt are sampled
/// from the current policy, scored by a caller-supplied reward, and their advantages over the group
/// weight a policy-gradient step, with a KL penalty toward a frozen reference. RLOO is
/// Advantage = Rloo, KlPenalty = InReward, summed log-probs (the defaults, TRL's RLOO); GRPO is
/// Advantage = Grpo, KlPenalty = PerTokenK3, LengthNormalised = true.
/// </summary>
internal sealed record PolicyRlConfig
{
    // ---- generation
    /// <summary>k completions sampled per prompt; the group baseline needs k ≥ 2 (TRL's RLOO uses 2, GRPO 8).</summary>
    public int CompletionsPerPrompt { get; init; } = 4;
    public int MaxNewTokens { get; init; } = 64;
    /// <summary>
    /// Sampling temperature (> 0: greedy would give k identical completions and no signal). Log-probs
    /// are taken at temperature 1, so the gradient is exactly on-policy only at 1.
    /// </summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Token ids that end a completion (kept in it: the policy chose to stop). Empty = run to MaxNewTokens.</summary>
    public IReadOnlySet<int> StopIds { get; init; } = new HashSet<int>();

    // ---- objective
    public AdvantageKind Advantage { get; init; } = AdvantageKind.Rloo;
    public KlPenalty KlPenalty { get; init; } = KlPenalty.InReward;
    /// <summary>KL coefficient β; TRL's RLOO default. 0 lets the policy drift freely from the reference.</summary>
    public double Beta { get; init; } = 0.05;
    /// <summary>ε in GRPO's (r − mean)/(std + ε); TRL's value.</summary>
    public double GrpoEps { get; init; } = 1e-4;
    /// <summary>Per-completion loss as a mean over its tokens (GRPO) rather than a sum (REINFORCE's log π(y)).</summary>
    public bool LengthNormalised { get; init; }

    // ---- optimisation
    /// <summary>Peak learning rate; RL moves the policy with noisy gradients, so smaller than SFT's (1e-5 suits LoRA; ~1e-6 for full fine-tuning).</summary>
    public double LearningRate { get; init; } = 1e-5;
    public LrScheduleKind Schedule { get; init; } = LrScheduleKind.Linear;
    public int WarmupSteps { get; init; }
    public double WeightDecay { get; init; }
    public (double Beta1, double Beta2) Betas { get; init; } = (0.9, 0.999);
    public double Eps { get; init; } = 1e-8;
    /// <summary>Clip the global gradient norm to this; ≤ 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    // ---- batching
    /// <summary>Prompts per micro-batch (each with its k completions, so BatchSize × k sequences per forward).</summary>
    public int BatchSize { get; init; } = 4;
    /// <summary>Micro-batches per optimizer step; groups never straddle micro-batches, so advantages do not depend on this.</summary>
    public int GradientAccumulation { get; init; } = 1;
    public int MaxSteps { get; init; } = 100;
    /// <summary>Seeds prompt order and sampling.</summary>
    public long Seed { get; init; } = 42;

    public LrSchedule LrSchedule => new(Schedule, LearningRate, WarmupSteps, MaxSteps);

    public void Validate()
    {
        LrSchedule.Validate();
        if (CompletionsPerPrompt < 2) throw new ArgumentException($"completions per prompt must be ≥ 2 for a group baseline, got {CompletionsPerPrompt}");
        if (MaxNewTokens < 1) throw new ArgumentException($"max new tokens must be ≥ 1, got {MaxNewTokens}");
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be > 0 and finite (greedy sampling gives identical completions), got {Temperature}");
        if (!(Beta >= 0) || double.IsInfinity(Beta)) throw new ArgumentException($"KL coefficient beta must be ≥ 0 and finite, got {Beta}");
        if (!(GrpoEps > 0)) throw new ArgumentException($"GRPO eps must be > 0, got {GrpoEps}");
        if (WeightDecay < 0) throw new ArgumentException($"weight decay must be ≥ 0, got {WeightDecay}");
        if (Betas.Beta1 is < 0 or >= 1 || Betas.Beta2 is < 0 or >= 1) throw new ArgumentException($"AdamW betas must be in [0, 1), got {Betas}");
        if (!(Eps > 0)) throw new ArgumentException($"AdamW eps must be > 0, got {Eps}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be ≥ 1, got {BatchSize}");
        if (GradientAccumulation < 1) throw new ArgumentException($"gradient accumulation must be ≥ 1, got {GradientAccumulation}");
    }
}
