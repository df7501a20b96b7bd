
namespace Ares.RedTeam.Records;

/// <summary>
/// The stored and exported spelling of <see cref="FailureClass"/> (snake_case), one mapping for the
/// run store, the JSONL exports and the CLI's <c>--classes</c>.
/// </summary>
internal static class FailureClassNames
{
    public static readonly IReadOnlyList<FailureClass> All =
        [FailureClass.Robust, FailureClass.PolicyOnly, FailureClass.RmOnly, FailureClass.Systemic, FailureClass.Unscored];

    public static string SnakeName(this FailureClass c) => c switch
    {
        FailureClass.Robust => "robust",
        FailureClass.PolicyOnly => "policy_only",
        FailureClass.RmOnly => "rm_only",
        FailureClass.Systemic => "systemic",
        FailureClass.Unscored => "unscored",
        _ => throw new ArgumentOutOfRangeException(nameof(c), c, "not a failure class"),
    };

    public static bool TryParse(string name, out FailureClass c)
    {
        foreach (var k in All)
            if (k.SnakeName() == name) { c = k; return true; }
        c = default;
        return false;
    }

    /// <summary>Parses a snake_case name; an unknown one is an <see cref="ArgumentException"/> listing the valid names.</summary>
    public static FailureClass Parse(string name) => TryParse(name, out var c) ? c
        : throw new ArgumentException($"unknown failure class '{name}': expected one of {string.Join(", ", All.Select(k => k.SnakeName()))}");
}
