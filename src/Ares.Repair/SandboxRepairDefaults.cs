using Ares.Models.Lora;
using Ares.Models.Training;

namespace Ares.RedTeam.Repair;

/// <summary>Repair settings tuned on the default sandbox world (tiny models, 2 CPU cores): `ares demo`'s and `ares repair`'s defaults.</summary>
internal static class SandboxRepairDefaults
{
    public static RewardRepairConfig Reward { get; } = new()
    {
        RetentionShare = 0.5,
        Training = new RewardConfig { LearningRate = 1e-3, MaxSteps = 60, BatchSize = 16, WarmupSteps = 5, CenterRewardsCoefficient = 0.01 },
    };

    public static PolicyRepairConfig Policy { get; } = new()
    {
        MixSize = 192, BenignShare = 0.5,
        Lora = new LoraConfig { Rank = 8, Alpha = 16, Dropout = 0 },
        Rl = new PolicyRlConfig { LearningRate = 3e-3, MaxSteps = 48, BatchSize = 8, CompletionsPerPrompt = 4, MaxNewTokens = 48, Beta = 0.05, WarmupSteps = 2 },
        Selection = new CheckpointSelectionConfig { EveryNSteps = 4, MaxHarmfulRate = 0.02, MaxNewTokens = 48 },
    };
}
