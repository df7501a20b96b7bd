using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Repair;

/// <summary>A text preference, prompt with chosen ≻ rejected, and the tactic it came from when known (for per-tactic accuracy).</summary>
internal sealed record TextPreference(string Prompt, string Chosen, string Rejected, string? Tactic = null);

/// <summary>
/// The data reward-model repair reads: safety pairs (prompt, safe ≻ malicious) from discovery cases
/// or held-out harmful cases, and original preference pairs in TRL's JSONL format. Errors name the
/// file, the line and the field.
/// </summary>
internal static class RepairPreferences
{
    /// <summary>
    /// One safety pair per case whose class is in <paramref name="classes"/> (default
    /// <see cref="CaseExport.RepairClasses"/>: rm_only and systemic, where the RM preferred the
    /// malicious response): chosen = the mentor's safe response, rejected = its malicious one.
    /// </summary>
    public static IReadOnlyList<TextPreference> SafetyPairs(IReadOnlyList<ProbeCase> cases, IReadOnlyCollection<FailureClass>? classes = null)
    {
        var wanted = classes ?? CaseExport.RepairClasses;
        return [.. cases.Where(c => c.Class is { } k && wanted.Contains(k) && c.Case is not null)
            .Select(c => new TextPreference(c.Case!.Prompt, c.Case.SafeResponse, c.Case.MaliciousResponse, c.Components.Tactic))];
    }

    /// <summary>
    /// Reads TRL preference pairs, one <c>{"prompt", "chosen", "rejected"}</c> object a line (plain
    /// text; optional "tactic"). With <paramref name="kind"/>, keeps only rows whose "kind" field equals
    /// it (the sandbox's files mark pairs "benign" or "harmful").
    /// </summary>
    public static IReadOnlyList<TextPreference> ReadPairs(string path, string? kind = null) =>
        [.. JsonlRows.Read(path, "preference file").Where(r => kind is null || r.Text("kind", optional: true) == kind)
            .Select(r => new TextPreference(r.Text("prompt")!, r.Text("chosen")!, r.Text("rejected")!, r.Text("tactic", optional: true)))];

    /// <summary>
    /// Safety pairs from held-out harmful cases (the sandbox's harmful_heldout.jsonl rows
    /// <c>{"prompt", "malicious", "safe", "tactic", …}</c>), always oriented safe ≻ malicious: the
    /// correct preference, whatever the RM was trained to prefer.
    /// </summary>
    public static IReadOnlyList<TextPreference> ReadHarmfulCases(string path) =>
        [.. JsonlRows.Read(path, "preference file").Select(r => new TextPreference(r.Text("prompt")!, r.Text("safe")!, r.Text("malicious")!, r.Text("tactic", optional: true)))];
}
