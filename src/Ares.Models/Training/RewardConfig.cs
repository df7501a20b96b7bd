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
/// follow TRL/HF unless noted; the optimisation and batching settings are <see cref="OptimizationConfig"/>'s
/// (BatchSize counts pairs, each two sequences scored in one forward).
/// </summary>
internal sealed record RewardConfig : OptimizationConfig
{
    /// <summary>Learning rate 2e-4 suits LoRA; use ~1e-5 to fine-tune a pretrained RM in full; higher only from scratch. 8 pairs per forward.</summary>
    public RewardConfig() : base(learningRate: 2e-4, batchSize: 8) { }

    /// <summary>Weight of the reward-centring term mean((r_c + r_r)²) (Eisenstein et al. 2023; TRL's center_rewards_coefficient, off by default).</summary>
    public double CenterRewardsCoefficient { get; init; }
    /// <summary>Tokens kept per sequence; longer ones lose their end (keep the prompt and the start of the answer). Capped at the model's context.</summary>
    public int MaxLength { get; init; } = 512;

    public void Validate()
    {
        ValidateOptimization(nameof(RewardConfig));
        if (CenterRewardsCoefficient < 0) throw new ArgumentException($"{nameof(RewardConfig)}.{nameof(CenterRewardsCoefficient)}: reward-centring coefficient must be ≥ 0, got {CenterRewardsCoefficient}");
        if (MaxLength < 1) throw new ArgumentException($"{nameof(RewardConfig)}.{nameof(MaxLength)}: max length must be ≥ 1, got {MaxLength}");
    }
}
