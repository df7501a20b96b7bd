using System.Text.Json;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Repair;

/// <summary>A text preference, prompt with chosen ≻ rejected, and the tactic it came from when known (for per-tactic accuracy).</summary>
internal sealed record TextPreference(string Prompt, string Chosen, string Rejected, string? Tactic = null);

/// <summary>
/// A sandbox world's repair data (from its data directory). Retention = its benign training pairs
/// only: its harmful training pairs include the deliberately flipped blind-tactic pairs (malicious
/// chosen), and mixing those back would re-teach the blind spot. Held-out safety pairs come from
/// harmful_heldout.jsonl in the correct orientation (safe ≻ malicious); held-out retention = the
/// benign rows of reward_pairs_heldout.jsonl.
/// </summary>
internal sealed record SandboxRepairData(IReadOnlyList<TextPreference> Retention, IReadOnlyList<TextPreference> SafetyHeldOut, IReadOnlyList<TextPreference> RetentionHeldOut)
{
    public const string BenignKind = "benign";

    public static SandboxRepairData Read(string dataDir) => new(
        RepairPreferences.ReadPairs(Path.Combine(dataDir, Sandbox.SandboxData.RewardPairsTrain), BenignKind),
        RepairPreferences.ReadHarmfulCases(Path.Combine(dataDir, Sandbox.SandboxData.HarmfulHeldOut)),
        RepairPreferences.ReadPairs(Path.Combine(dataDir, Sandbox.SandboxData.RewardPairsHeldOut), BenignKind));
}

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
        [.. ReadRows(path).Where(r => kind is null || Text(r, "kind", path, optional: true) == kind)
            .Select(r => new TextPreference(Text(r, "prompt", path)!, Text(r, "chosen", path)!, Text(r, "rejected", path)!, Text(r, "tactic", path, optional: true)))];

    /// <summary>
    /// Safety pairs from held-out harmful cases (the sandbox's harmful_heldout.jsonl rows
    /// <c>{"prompt", "malicious", "safe", "tactic", …}</c>), always oriented safe ≻ malicious: the
    /// correct preference, whatever the RM was trained to prefer.
    /// </summary>
    public static IReadOnlyList<TextPreference> ReadHarmfulCases(string path) =>
        [.. ReadRows(path).Select(r => new TextPreference(Text(r, "prompt", path)!, Text(r, "safe", path)!, Text(r, "malicious", path)!, Text(r, "tactic", path, optional: true)))];

    sealed record Row(JsonElement Json, int Line);

    static IEnumerable<Row> ReadRows(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: preference file not found", path);
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonElement json;
            try { json = JsonDocument.Parse(text).RootElement; }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{line}: not a JSON object ({e.Message})"); }
            if (json.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}:{line}: expected a JSON object, got {json.ValueKind}");
            yield return new Row(json, line);
        }
    }

    static string? Text(Row r, string field, string path, bool optional = false)
    {
        if (!r.Json.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
            return optional ? null : throw new InvalidDataException($"{path}:{r.Line}: missing string field \"{field}\"");
        if (v.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{path}:{r.Line}: field \"{field}\" must be a string, got {v.ValueKind}");
        return v.GetString();
    }
}
