using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Benchmarks;

/// <summary>An eval config that cannot be used; the message names the file and the field.</summary>
internal sealed class EvalConfigException(string message) : ArgumentException(message);

/// <summary>
/// The judge of an eval: its kind (strongreject, harmbench, xstest, refusal, classifier, guard), the
/// model behind it when it has one, and how many tokens its verdict may use.
/// </summary>
internal sealed record EvalJudgeSpec(string Kind, ModelSpec? Model, int MaxTokens);

/// <summary>
/// `ares eval` described in JSON (README "Benchmarks"): a benchmark file, a policy (local path,
/// "sandbox:NAME" or an endpoint, read as the probe config reads models), a judge, k samples per
/// prompt, seeded, in a run store. Every field is checked; relative paths resolve against the config's folder.
/// </summary>
internal sealed record EvalConfig
{
    public static readonly IReadOnlyList<string> JudgeKinds = ["strongreject", "harmbench", "xstest", "refusal", "classifier", "guard"];

    public required string Source { get; init; }
    public required string RunId { get; init; }
    public required string StorePath { get; init; }
    public string? SandboxRoot { get; init; }
    public required string BenchmarkPath { get; init; }
    public required ModelSpec Policy { get; init; }
    public required EvalJudgeSpec Judge { get; init; }
    public required long Seed { get; init; }
    /// <summary>Responses per prompt (k).</summary>
    public required int Samples { get; init; }
    /// <summary>Items per policy call and per store transaction (a resumed run redoes whole batches).</summary>
    public required int Batch { get; init; }
    /// <summary>Only the first N rows of the benchmark; null = all.</summary>
    public int? Limit { get; init; }
    public required ChatSampling Sampling { get; init; }
    /// <summary>The config as written, normalised: stored with the run and compared on --resume.</summary>
    public required string NormalisedJson { get; init; }

    public static EvalConfig Load(string path)
    {
        return Parse(ConfigReader.ReadFile(path, "eval config", m => new EvalConfigException(m)), path);
    }

    public static EvalConfig Parse(string json, string source)
    {
        var (root, r) = ConfigReader.Open(json, source, m => new EvalConfigException(m));
        r.Known(root, "", ["run", "store", "sandbox_root", "policy", .. SectionFields]);
        return Section(root, r, "", source,
            runId: r.Str(root, "run", "run") is string id
                ? (id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? id : throw r.Error("run", "must use letters, digits, '-', '_' or '.'"))
                : Path.GetFileNameWithoutExtension(source),
            storePath: r.PathOf(r.Str(root, "store", "store") ?? "ares-runs.db"),
            sandboxRoot: r.Str(root, "sandbox_root", "sandbox_root") is string sr ? r.PathOf(sr) : null,
            policy: r.Model(root["policy"], "policy") ?? throw r.Error("policy", "is required (a path, \"sandbox:NAME\" or {\"endpoint\": …, \"model\": …})"));
    }

    /// <summary>The fields of an eval that say what is measured and how: ares eval's config has them at the top, a repair config in its "eval" section.</summary>
    public static readonly string[] SectionFields = ["benchmark", "judge", "samples", "seed", "batch", "limit", "sampling"];

    /// <summary>
    /// Reads the <see cref="SectionFields"/> of <paramref name="o"/> (error names prefixed with <paramref name="prefix"/>,
    /// e.g. "eval."); the caller supplies who answers (the policy), the run id and the store.
    /// </summary>
    internal static EvalConfig Section(JsonObject o, ConfigReader r, string prefix, string source, string runId, string storePath, string? sandboxRoot, ModelSpec policy)
    {
        var sampling = r.Obj(o, "sampling");
        r.Known(sampling, prefix + "sampling.", "temperature", "top_p", "max_tokens");
        var defaults = new ChatSampling { MaxTokens = 256, Temperature = 0.7, TopP = 1.0 };
        long seed = r.Long(o, "seed", prefix + "seed") ?? 1;
        return new EvalConfig
        {
            Source = source,
            RunId = runId,
            StorePath = storePath,
            SandboxRoot = sandboxRoot,
            BenchmarkPath = r.PathOf(r.Str(o, "benchmark", prefix + "benchmark") ?? throw r.Error(prefix + "benchmark", "is required (a benchmark CSV or JSONL file; see `ares datasets inspect`)")),
            Policy = policy,
            Judge = ReadJudge(r, o["judge"], prefix),
            Seed = seed,
            Samples = r.Int(o, "samples", prefix + "samples", min: 1) ?? 1,
            Batch = r.Int(o, "batch", prefix + "batch", min: 1) ?? 8,
            Limit = r.Int(o, "limit", prefix + "limit", min: 1),
            Sampling = new ChatSampling
            {
                Temperature = r.Dbl(sampling, "temperature", prefix + "sampling.temperature", 0, 5) ?? defaults.Temperature,
                TopP = r.Dbl(sampling, "top_p", prefix + "sampling.top_p", 0, 1) ?? defaults.TopP,
                MaxTokens = r.Int(sampling, "max_tokens", prefix + "sampling.max_tokens", min: 1) ?? defaults.MaxTokens,
                Seed = seed,
            },
            NormalisedJson = o.ToJsonString(),
        };
    }

    /// <summary>The judge kind an eval run was stored with (its normalised config's "judge"), for reading its rates back.</summary>
    public static string JudgeKindOf(string normalisedJson)
    {
        var judge = JsonNode.Parse(normalisedJson)?["judge"];
        return judge switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonObject j when j["type"] is JsonValue t && t.TryGetValue<string>(out var kind) => kind,
            _ => "unknown",
        };
    }

    static EvalJudgeSpec ReadJudge(ConfigReader r, JsonNode? node, string prefix)
    {
        const string Expected = "\"refusal\", \"xstest\", or {\"type\": strongreject|harmbench|xstest|refusal|classifier|guard, \"model\": …, \"max_tokens\": N}";
        switch (node)
        {
            case null: throw r.Error(prefix + "judge", $"is required ({Expected})");
            case JsonValue v when v.TryGetValue<string>(out var s) && s is "refusal" or "xstest": return new EvalJudgeSpec(s, null, 16);
            case JsonObject o:
                r.Known(o, prefix + "judge.", "type", "model", "max_tokens");
                var kind = r.Str(o, "type", prefix + "judge.type") ?? throw r.Error(prefix + "judge.type", $"is required (one of {string.Join(", ", JudgeKinds)})");
                if (!JudgeKinds.Contains(kind)) throw r.Error(prefix + "judge.type", $"must be one of {string.Join(", ", JudgeKinds)}, got '{kind}'");
                var model = r.Model(o["model"], prefix + "judge.model");
                if (model is null && kind is "strongreject" or "harmbench" or "classifier" or "guard")
                    throw r.Error(prefix + "judge.model", $"is required for a {kind} judge (a path, \"sandbox:NAME\" or {{\"endpoint\": …, \"model\": …}})");
                if (model is not null && kind == "refusal") throw r.Error(prefix + "judge.model", "is not used by the refusal judge (it matches phrases)");
                if (model is EndpointModelSpec && kind == "classifier") throw r.Error(prefix + "judge.model", "must be local for a classifier judge (use type \"guard\" for an endpoint)");
                int defaultTokens = kind switch { "strongreject" => 512, "harmbench" => 4, "guard" => 24, _ => 16 };
                return new EvalJudgeSpec(kind, model, r.Int(o, "max_tokens", prefix + "judge.max_tokens", min: 1) ?? defaultTokens);
            default: throw r.Error(prefix + "judge", $"must be {Expected}");
        }
    }
}
