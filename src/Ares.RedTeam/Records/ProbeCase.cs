using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;

namespace Ares.RedTeam.Records;

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
