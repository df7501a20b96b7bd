using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;

namespace Ares.RedTeam.Probe;

/// <summary>
/// The four-class taxonomy of a probed case (ARES §Discovery), plus <see cref="Unscored"/> for a
/// case where no policy response could be judged (target errors or unscoreable verdicts). Unscored
/// cases stay in every denominator.
/// </summary>
internal enum FailureClass { Robust, PolicyOnly, RmOnly, Systemic, Unscored }

/// <summary>One sampled policy response with its judge verdict and reward. Error set = the target failed.</summary>
internal sealed record ProbeResponse(
    int Sample, string? Text, string? FinishReason, string? Error,
    double? HarmProbability, string? JudgeRationale, double? Reward);

/// <summary>
/// One probed case: the tuple, the mentor's output (or its failure), k responses, RM scores of the
/// reference responses and the class. A mentor failure has no case, no responses and no class.
/// </summary>
internal sealed record ProbeCase
{
    public required int Index { get; init; }
    public required ComponentTuple Components { get; init; }
    /// <summary>The seed the mentor and the policy sampling used for this case.</summary>
    public required long Seed { get; init; }
    public MentorCase? Case { get; init; }
    public string? MentorFailure { get; init; }
    public int MentorAttempts { get; init; } = 1;
    public IReadOnlyList<ProbeResponse> Responses { get; init; } = [];
    public double? RewardMalicious { get; init; }
    public double? RewardSafe { get; init; }
    /// <summary>Null exactly when the mentor failed.</summary>
    public FailureClass? Class { get; init; }
    public required DateTime CreatedUtc { get; init; }
}

/// <summary>A run's provenance: what was probed with what, by which Ares, when.</summary>
internal sealed record RunInfo
{
    public required string RunId { get; init; }
    /// <summary>"discovery" or "eval" (<see cref="Store.RunStore.DiscoveryKind"/>, a stored column); attack runs are <see cref="Store.AttackRunRecord"/>s.</summary>
    public string Kind { get; init; } = Store.RunStore.DiscoveryKind;
    /// <summary>The probe config as given (JSON), so a run can be resumed and reproduced.</summary>
    public required string ConfigJson { get; init; }
    public required long Seed { get; init; }
    public required string AresVersion { get; init; }
    public required ModelIdentity Policy { get; init; }
    public required ModelIdentity RewardModel { get; init; }
    public required ModelIdentity Judge { get; init; }
    public required ModelIdentity Mentor { get; init; }
    public required string CatalogVersion { get; init; }
    /// <summary>Number of cases the run will have when complete.</summary>
    public required int Budget { get; init; }
    public required DateTime CreatedUtc { get; init; }
    /// <summary>"running", "complete" or "failed".</summary>
    public string Status { get; init; } = "running";
}
