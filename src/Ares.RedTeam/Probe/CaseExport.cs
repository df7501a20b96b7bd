using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Probe;

/// <summary>
/// Exports a stored run as JSON Lines: every case with its provenance (for analysis), or the
/// reward-model repair data as TRL preference pairs. Files are UTF-8 without BOM, one object per
/// <c>\n</c>-terminated line, and replace their target atomically (temp file + rename).
/// </summary>
internal static class CaseExport
{
    /// <summary>The cases whose reward model preferred the malicious response: the RM-repair data (ARES §Repair).</summary>
    public static readonly IReadOnlySet<FailureClass> RepairClasses = new HashSet<FailureClass> { FailureClass.RmOnly, FailureClass.Systemic };

    // Relaxed escaping keeps non-ASCII text readable; the files are data, never embedded in HTML.
    static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes one object per case, index order, mentor failures included (class null). Returns the number of lines.</summary>
    public static int WriteCasesJsonl(RunStore store, string runId, string path)
    {
        var cases = store.LoadCases(runId); // throws, listing the store's runs, when there is no such run
        var run = store.GetRun(runId)!;
        var rules = ClassRules.Of(run);
        WriteLines(path, cases, (w, c) => WriteCase(w, run, rules, c));
        return cases.Count;
    }

    /// <summary>
    /// The run-level settings a reader needs to recompute each case's class and the run's rates from
    /// a cases line alone (see <see cref="Taxonomy"/>): the harm threshold, the reward margin, how many
    /// responses were sampled per case, and how cases were chosen (an adaptive selector does not
    /// draw cases independently, so its rates describe the cases probed, not the whole tuple space).
    /// </summary>
    sealed record ClassRules(double HarmThreshold, double RewardMargin, int? SamplesPerCase, string Selector)
    {
        public static ClassRules Of(RunInfo run)
        {
            JsonObject? config = null;
            try { config = JsonNode.Parse(run.ConfigJson) as JsonObject; }
            catch (JsonException) { } // a run written by a test or an old Ares: fall back to the defaults ProbeConfig applies
            JsonNode? At(string section, string key) => config?[section] is JsonObject o ? o[key] : null;
            double margin = At("taxonomy", "reward_margin") is JsonValue m && m.TryGetValue<double>(out var x) ? x : 0;
            int? samples = At("budget", "samples") is JsonValue s && s.TryGetValue<int>(out var k) ? k
                : config?["budget"] is null or JsonObject ? new ProbeOptions().Samples : null; // not a probe config's budget: unknown
            string selector = At("selector", "kind") is JsonValue v && v.TryGetValue<string>(out var name) ? name : "adaptive";
            return new(Judges.JudgeVerdict.Threshold, margin, samples, selector);
        }
    }

    /// <summary>Where the conversational twin of a plain preferences file goes: <c>pairs.jsonl</c> → <c>pairs.conversational.jsonl</c>.</summary>
    public static string ConversationalPath(string plainPath) =>
        plainPath.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? plainPath[..^".jsonl".Length] + ".conversational.jsonl"
            : plainPath + ".conversational.jsonl";

    /// <summary>
    /// Writes TRL preference pairs, <c>{"prompt", "chosen": safe, "rejected": malicious}</c>, for
    /// every case whose class is in <paramref name="classes"/> (default <see cref="RepairClasses"/>).
    /// <paramref name="conversational"/> writes TRL's conversational form (role/content message
    /// lists) instead of plain text. Returns the number of pairs.
    /// </summary>
    public static int WritePreferencesJsonl(RunStore store, string runId, string path,
        IReadOnlyCollection<FailureClass>? classes = null, bool conversational = false)
    {
        var wanted = classes ?? RepairClasses;
        var pairs = store.LoadCases(runId)
            .Where(c => c.Class is { } k && wanted.Contains(k))
            .Select(c => c.Case!) // a classified case always has the mentor's output (RunStore enforces it)
            .ToList();
        WriteLines(path, pairs, (w, m) =>
        {
            w.WriteStartObject();
            if (conversational)
            {
                WriteMessages(w, "prompt", "user", m.Prompt);
                WriteMessages(w, "chosen", "assistant", m.SafeResponse);
                WriteMessages(w, "rejected", "assistant", m.MaliciousResponse);
            }
            else
            {
                w.WriteString("prompt", m.Prompt);
                w.WriteString("chosen", m.SafeResponse);
                w.WriteString("rejected", m.MaliciousResponse);
            }
            w.WriteEndObject();
        });
        return pairs.Count;
    }

    static void WriteCase(Utf8JsonWriter w, RunInfo run, ClassRules rules, ProbeCase c)
    {
        w.WriteStartObject();
        w.WriteString("run_id", run.RunId);
        w.WriteNumber("index", c.Index);
        w.WriteStartObject("components");
        w.WriteString("topic", c.Components.Topic);
        w.WriteString("persona", c.Components.Persona);
        w.WriteString("tactic", c.Components.Tactic);
        w.WriteString("goal", c.Components.Goal);
        w.WriteEndObject();
        w.WriteString("prompt", c.Case?.Prompt);
        w.WriteString("malicious_response", c.Case?.MaliciousResponse);
        w.WriteString("safe_response", c.Case?.SafeResponse);
        w.WriteString("mentor_failure", c.MentorFailure);
        w.WriteNumber("mentor_attempts", c.MentorAttempts);
        w.WriteStartArray("policy_responses");
        foreach (var r in c.Responses)
        {
            w.WriteStartObject();
            w.WriteNumber("sample", r.Sample);
            w.WriteString("text", r.Text);
            w.WriteString("finish_reason", r.FinishReason);
            w.WriteString("error", r.Error);
            WriteNumber(w, "harm_probability", r.HarmProbability);
            if (r.HarmProbability is double p) w.WriteBoolean("harmful", p >= rules.HarmThreshold);
            else w.WriteNull("harmful");
            w.WriteString("judge_rationale", r.JudgeRationale);
            WriteNumber(w, "reward", r.Reward);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteNumber(w, "reward_malicious", c.RewardMalicious);
        WriteNumber(w, "reward_safe", c.RewardSafe);
        w.WriteString("class", c.Class?.SnakeName());
        // The rules that turned the numbers above into the class, so the rates can be recomputed from this file alone.
        w.WriteStartObject("taxonomy");
        w.WriteNumber("harm_threshold", rules.HarmThreshold);
        w.WriteNumber("reward_margin", rules.RewardMargin);
        if (rules.SamplesPerCase is int k) w.WriteNumber("samples_per_case", k);
        else w.WriteNull("samples_per_case");
        w.WriteString("selector", rules.Selector);
        w.WriteEndObject();
        w.WriteStartObject("provenance");
        w.WriteNumber("seed", c.Seed);
        w.WriteString("created_utc", RunStore.FormatUtc(c.CreatedUtc));
        w.WriteString("ares_version", run.AresVersion);
        w.WriteString("catalog_version", run.CatalogVersion);
        w.WriteString("run_status", run.Status);
        w.WriteNumber("run_budget", run.Budget);
        w.WriteNumber("run_seed", run.Seed);
        WriteIdentity(w, "policy", run.Policy);
        WriteIdentity(w, "reward_model", run.RewardModel);
        WriteIdentity(w, "judge", run.Judge);
        WriteIdentity(w, "mentor", run.Mentor);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    static void WriteIdentity(Utf8JsonWriter w, string name, ModelIdentity id)
    {
        w.WriteStartObject(name);
        w.WriteString("kind", id.Kind);
        w.WriteString("location", id.Location);
        w.WriteString("content_hash", id.ContentHash);
        w.WriteString("model_name", id.ModelName);
        w.WriteEndObject();
    }

    static void WriteMessages(Utf8JsonWriter w, string name, string role, string content)
    {
        w.WriteStartArray(name);
        w.WriteStartObject();
        w.WriteString("role", role);
        w.WriteString("content", content);
        w.WriteEndObject();
        w.WriteEndArray();
    }

    static void WriteNumber(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    static void WriteLines<T>(string path, IReadOnlyList<T> items, Action<Utf8JsonWriter, T> write)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        TensorFileIO.WriteAtomically(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream, Compact);
            foreach (var item in items)
            {
                write(w, item);
                w.Flush();
                stream.WriteByte((byte)'\n');
                w.Reset();
            }
        });
    }
}
