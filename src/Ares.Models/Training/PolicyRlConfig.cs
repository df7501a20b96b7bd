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
/// Advantage = Grpo, KlPenalty = PerTokenK3, LengthNormalised = true. The optimisation and batching
/// settings are <see cref="OptimizationConfig"/>'s: BatchSize counts prompts per micro-batch (each with
/// its k completions, so BatchSize × k sequences per forward); groups never straddle micro-batches, so
/// advantages do not depend on GradientAccumulation; Seed orders prompts and seeds sampling.
/// </summary>
internal sealed record PolicyRlConfig : OptimizationConfig
{
    /// <summary>
    /// Learning rate 1e-5: RL moves the policy with noisy gradients, so smaller than SFT's (1e-5 suits
    /// LoRA; ~1e-6 for full fine-tuning). 4 prompts per micro-batch, i.e. 4k sequences per forward.
    /// </summary>
    public PolicyRlConfig() : base(learningRate: 1e-5, batchSize: 4) { }

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

    public void Validate()
    {
        ValidateOptimization(nameof(PolicyRlConfig));
        if (CompletionsPerPrompt < 2) throw new ArgumentException($"{nameof(PolicyRlConfig)}.{nameof(CompletionsPerPrompt)}: completions per prompt must be ≥ 2 for a group baseline, got {CompletionsPerPrompt}");
        if (MaxNewTokens < 1) throw new ArgumentException($"{nameof(PolicyRlConfig)}.{nameof(MaxNewTokens)}: max new tokens must be ≥ 1, got {MaxNewTokens}");
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"{nameof(PolicyRlConfig)}.{nameof(Temperature)}: temperature must be > 0 and finite (greedy sampling gives identical completions), got {Temperature}");
        if (!(Beta >= 0) || double.IsInfinity(Beta)) throw new ArgumentException($"{nameof(PolicyRlConfig)}.{nameof(Beta)}: KL coefficient beta must be ≥ 0 and finite, got {Beta}");
        if (!(GrpoEps > 0)) throw new ArgumentException($"{nameof(PolicyRlConfig)}.{nameof(GrpoEps)}: GRPO eps must be > 0, got {GrpoEps}");
    }
}
