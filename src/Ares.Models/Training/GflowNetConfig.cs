namespace Ares.Models.Training;

/// <summary>
/// Trajectory-balance training of an LM as a GFlowNet sampler of short sequences (Lee et al. 2024,
/// "Learning diverse attacks on LLMs for robust red-teaming and safety tuning", and their public
/// code GFNOrg/red-teaming). Defaults are the paper's. log R(x) = (log p_ref(x)/γ + task/β)/T
/// (<see cref="GflowNetLosses.LogReward"/>); the optimisation settings are
/// <see cref="OptimizationConfig"/>'s, BatchSize counting sequences per forward pass.
/// </summary>
internal sealed record GflowNetConfig : OptimizationConfig
{
    /// <summary>The paper's AdamW lr 1e-4 (LoRA r = 32) and 100 warm-up steps; batch 16 (the paper accumulates 8 of them).</summary>
    public GflowNetConfig() : base(learningRate: 1e-4, batchSize: 16)
    {
        WarmupSteps = 100;
        MaxSteps = 5000;
    }

    // ---- log Z
    /// <summary>
    /// Peak lr of the log Z head. Larger than the policy's: log Z must track a partition function
    /// tens of nats away from its start, which GFlowNet code does with a separate, larger rate.
    /// </summary>
    public double LogZLearningRate { get; init; } = 1e-3;

    // ---- reward
    /// <summary>β: divides the task term (mean_k log p_harm); 0.1 in the paper, so harm dominates fluency.</summary>
    public double Beta { get; init; } = 0.1;
    /// <summary>γ at step 0: divides log p_ref(x), the fluency prior.</summary>
    public double GammaStart { get; init; } = 1.0;
    /// <summary>γ after <see cref="ScheduleSteps"/> (the paper: 1.0–1.2), loosening the prior as training goes.</summary>
    public double GammaEnd { get; init; } = 1.2;
    /// <summary>Reward temperature T at step 0: 2.0 flattens the reward early, for exploration.</summary>
    public double RewardTemperatureStart { get; init; } = 2.0;
    /// <summary>T after <see cref="ScheduleSteps"/>: 1.0, the true reward.</summary>
    public double RewardTemperatureEnd { get; init; } = 1.0;
    /// <summary>Steps over which γ and T move linearly from start to end, then hold (the paper: 500–1,000).</summary>
    public int ScheduleSteps { get; init; } = 1000;

    // ---- sequences
    /// <summary>Sequences shorter than this (excluding a stop token) get <see cref="TooShortLogReward"/>; the paper's prompts are 5–20 tokens.</summary>
    public int MinTokens { get; init; } = 5;
    /// <summary>Most tokens sampled per sequence (a stop token included).</summary>
    public int MaxTokens { get; init; } = 20;
    /// <summary>Token ids that end a sequence (kept in it: stopping is part of the trajectory). Empty = always MaxTokens.</summary>
    public IReadOnlySet<int> StopIds { get; init; } = new HashSet<int>();
    /// <summary>log R for too-short (degenerate) sequences: far below any real reward, and never sent to the reward callback.</summary>
    public double TooShortLogReward { get; init; } = -500;

    // ---- exploration
    /// <summary>Probability that a step's batch comes from the replay buffer rather than online sampling (the paper: 0.5).</summary>
    public double ReplayProbability { get; init; } = 0.5;
    /// <summary>Fraction of an online batch sampled at a random temperature in [min, max]; the rest at 1.0 (the paper: half).</summary>
    public double TemperedFraction { get; init; } = 0.5;
    public double SamplingTemperatureMin { get; init; } = 0.5;
    public double SamplingTemperatureMax { get; init; } = 2.0;

    // ---- replay buffer
    /// <summary>Entries kept (the paper: 1,000–5,000).</summary>
    public int BufferCapacity { get; init; } = 1000;
    /// <summary>Embedding cosine above which two entries are near duplicates (the paper: 0.4).</summary>
    public double BufferSimilarity { get; init; } = 0.4;
    /// <summary>Normalised token edit distance below which two entries are near duplicates; 0 turns it off.</summary>
    public double BufferEditDistance { get; init; } = 0.1;

    /// <summary>γ at <paramref name="step"/>: linear from start to end over ScheduleSteps.</summary>
    public double GammaAt(int step) => Interpolate(GammaStart, GammaEnd, step);

    /// <summary>Reward temperature T at <paramref name="step"/>: linear from start to end over ScheduleSteps.</summary>
    public double RewardTemperatureAt(int step) => Interpolate(RewardTemperatureStart, RewardTemperatureEnd, step);

    double Interpolate(double start, double end, int step) =>
        ScheduleSteps <= 0 ? end : start + (end - start) * Math.Clamp((double)step / ScheduleSteps, 0, 1);

    public ReplayBuffer NewBuffer() => new(BufferCapacity, BufferSimilarity, BufferEditDistance);

    public void Validate()
    {
        const string name = nameof(GflowNetConfig);
        ValidateOptimization(name);
        void Check(bool ok, string field, string rule, object value)
        {
            if (!ok) throw new ArgumentException($"{name}.{field}: {rule}, got {value}");
        }
        static bool Positive(double x) => x > 0 && double.IsFinite(x);
        Check(Positive(LogZLearningRate), nameof(LogZLearningRate), "must be > 0 and finite", LogZLearningRate);
        Check(Positive(Beta), nameof(Beta), "must be > 0 and finite", Beta);
        Check(Positive(GammaStart), nameof(GammaStart), "must be > 0 and finite", GammaStart);
        Check(Positive(GammaEnd), nameof(GammaEnd), "must be > 0 and finite", GammaEnd);
        Check(Positive(RewardTemperatureStart), nameof(RewardTemperatureStart), "must be > 0 and finite", RewardTemperatureStart);
        Check(Positive(RewardTemperatureEnd), nameof(RewardTemperatureEnd), "must be > 0 and finite", RewardTemperatureEnd);
        Check(ScheduleSteps >= 0, nameof(ScheduleSteps), "must be ≥ 0", ScheduleSteps);
        Check(MinTokens >= 1, nameof(MinTokens), "must be ≥ 1", MinTokens);
        Check(MaxTokens >= MinTokens, nameof(MaxTokens), $"must be ≥ MinTokens ({MinTokens})", MaxTokens);
        Check(double.IsFinite(TooShortLogReward), nameof(TooShortLogReward), "must be finite", TooShortLogReward);
        Check(ReplayProbability is >= 0 and <= 1, nameof(ReplayProbability), "must be in [0, 1]", ReplayProbability);
        Check(TemperedFraction is >= 0 and <= 1, nameof(TemperedFraction), "must be in [0, 1]", TemperedFraction);
        Check(Positive(SamplingTemperatureMin), nameof(SamplingTemperatureMin), "must be > 0 and finite", SamplingTemperatureMin);
        Check(SamplingTemperatureMax >= SamplingTemperatureMin && double.IsFinite(SamplingTemperatureMax), nameof(SamplingTemperatureMax),
            $"must be finite and ≥ SamplingTemperatureMin ({SamplingTemperatureMin})", SamplingTemperatureMax);
        Check(BufferCapacity >= 1, nameof(BufferCapacity), "must be ≥ 1", BufferCapacity);
        Check(BufferSimilarity is > -1 and <= 1, nameof(BufferSimilarity), "must be in (−1, 1]", BufferSimilarity);
        Check(BufferEditDistance is >= 0 and <= 1, nameof(BufferEditDistance), "must be in [0, 1]", BufferEditDistance);
    }
}
