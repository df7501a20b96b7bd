using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;

namespace Ares.RedTeam.Records;

/// <summary>A run's provenance: what was probed with what, by which Ares, when.</summary>
internal sealed record RunInfo
{
    /// <summary>The stored kinds of a run row: a discovery (probe) or a benchmark eval; attack runs have their own table.</summary>
    public const string DiscoveryKind = "discovery", EvalKind = "eval";

    public required string RunId { get; init; }
    /// <summary>"discovery" or "eval" (a stored column); attack runs are the store's <c>AttackRunRecord</c>s.</summary>
    public string Kind { get; init; } = DiscoveryKind;
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
