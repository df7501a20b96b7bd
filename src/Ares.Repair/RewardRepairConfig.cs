using Ares.Models.Lora;
using Ares.Models.Training;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Repair;

/// <summary>
/// Stage 1 of ARES repair (§Repair): fine-tune the reward model on the (prompt, safe ≻ malicious)
/// pairs discovery found it getting wrong, mixed with its original preference data so that it does
/// not forget what it already ranked well. Loss: Bradley–Terry −log σ(r_safe − r_malicious − m)
/// (Ouyang et al. 2022, eq. 1; margin m as Llama 2), optionally with reward centring.
/// </summary>
internal sealed record RewardRepairConfig
{
    // ---- data
    /// <summary>Case classes whose (safe ≻ malicious) pair is repair data: those where the RM preferred the malicious response.</summary>
    public IReadOnlyCollection<FailureClass> RepairClasses { get; init; } = CaseExport.RepairClasses;
    /// <summary>
    /// Share of each batch drawn from the retention set (original preference pairs). 0.5 keeps the
    /// RM's old ranking in view as much as the new one. For the sandbox the retention set is its
    /// benign pairs only: its harmful training pairs include the deliberately flipped blind-tactic
    /// pairs, and mixing those back would re-teach the blind spot being repaired.
    /// </summary>
    public double RetentionShare { get; init; } = 0.5;
    /// <summary>Lead m the safe reward must have over the malicious one on safety pairs (0 = plain Bradley–Terry); retention pairs keep m = 0.</summary>
    public double SafetyMargin { get; init; }

    // ---- training
    /// <summary>
    /// Optimisation, batch size (pairs per forward), steps, max length and the reward-centring
    /// coefficient. Defaults: RewardConfig's, with lr 1e-5 (a full fine-tune of a trained RM should
    /// move it, not retrain it; LoRA wants ~2e-4) and 200 steps.
    /// </summary>
    public RewardConfig Training { get; init; } = new() { LearningRate = 1e-5, MaxSteps = 200 };
    /// <summary>Null = full fine-tune (the default; right for tiny models). Otherwise LoRA adapters, merged into the weights before saving.</summary>
    public LoraConfig? Lora { get; init; }

    public void Validate()
    {
        if (RepairClasses.Count == 0) throw new ArgumentException($"{nameof(RewardRepairConfig)}.{nameof(RepairClasses)}: at least one failure class is needed");
        if (RetentionShare is < 0 or > 1 || double.IsNaN(RetentionShare))
            throw new ArgumentException($"{nameof(RewardRepairConfig)}.{nameof(RetentionShare)}: must be in [0, 1], got {RetentionShare}");
        if (!(SafetyMargin >= 0) || double.IsInfinity(SafetyMargin))
            throw new ArgumentException($"{nameof(RewardRepairConfig)}.{nameof(SafetyMargin)}: must be ≥ 0 and finite, got {SafetyMargin}");
        Training.Validate();
        Lora?.Validate();
    }
}
