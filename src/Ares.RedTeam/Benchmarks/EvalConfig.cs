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
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: eval config not found", path);
        return Parse(File.ReadAllText(path), path);
    }

    public static EvalConfig Parse(string json, string source)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new EvalConfigException($"{source}: expected a JSON object");
        }
        catch (JsonException e) { throw new EvalConfigException($"{source}: not valid JSON ({e.Message})"); }
        var r = new ConfigReader(source, Path.GetDirectoryName(Path.GetFullPath(source))!, m => new EvalConfigException(m));
        r.Known(root, "", "run", "store", "seed", "sandbox_root", "benchmark", "policy", "judge", "samples", "batch", "limit", "sampling");
        var sampling = r.Obj(root, "sampling");
        r.Known(sampling, "sampling.", "temperature", "top_p", "max_tokens");
        var defaults = new ChatSampling { MaxTokens = 256, Temperature = 0.7, TopP = 1.0 };
        long seed = r.Long(root, "seed", "seed") ?? 1;
        return new EvalConfig
        {
            Source = source,
            RunId = r.Str(root, "run", "run") is string id
                ? (id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? id : throw r.Error("run", "must use letters, digits, '-', '_' or '.'"))
                : Path.GetFileNameWithoutExtension(source),
            StorePath = r.PathOf(r.Str(root, "store", "store") ?? "ares-runs.db"),
            SandboxRoot = r.Str(root, "sandbox_root", "sandbox_root") is string sr ? r.PathOf(sr) : null,
            BenchmarkPath = r.PathOf(r.Str(root, "benchmark", "benchmark") ?? throw r.Error("benchmark", "is required (a benchmark CSV or JSONL file; see `ares datasets inspect`)")),
            Policy = r.Model(root["policy"], "policy") ?? throw r.Error("policy", "is required (a path, \"sandbox:NAME\" or {\"endpoint\": …, \"model\": …})"),
            Judge = ReadJudge(r, root["judge"]),
            Seed = seed,
            Samples = r.Int(root, "samples", "samples", min: 1) ?? 1,
            Batch = r.Int(root, "batch", "batch", min: 1) ?? 8,
            Limit = r.Int(root, "limit", "limit", min: 1),
            Sampling = new ChatSampling
            {
                Temperature = r.Dbl(sampling, "temperature", "sampling.temperature", 0, 5) ?? defaults.Temperature,
                TopP = r.Dbl(sampling, "top_p", "sampling.top_p", 0, 1) ?? defaults.TopP,
                MaxTokens = r.Int(sampling, "max_tokens", "sampling.max_tokens", min: 1) ?? defaults.MaxTokens,
                Seed = seed,
            },
            NormalisedJson = root.ToJsonString(),
        };
    }

    static EvalJudgeSpec ReadJudge(ConfigReader r, JsonNode? node)
    {
        const string Expected = "\"refusal\", \"xstest\", or {\"type\": strongreject|harmbench|xstest|refusal|classifier|guard, \"model\": …, \"max_tokens\": N}";
        switch (node)
        {
            case null: throw r.Error("judge", $"is required ({Expected})");
            case JsonValue v when v.TryGetValue<string>(out var s) && s is "refusal" or "xstest": return new EvalJudgeSpec(s, null, 16);
            case JsonObject o:
                r.Known(o, "judge.", "type", "model", "max_tokens");
                var kind = r.Str(o, "type", "judge.type") ?? throw r.Error("judge.type", $"is required (one of {string.Join(", ", JudgeKinds)})");
                if (!JudgeKinds.Contains(kind)) throw r.Error("judge.type", $"must be one of {string.Join(", ", JudgeKinds)}, got '{kind}'");
                var model = r.Model(o["model"], "judge.model");
                if (model is null && kind is "strongreject" or "harmbench" or "classifier" or "guard")
                    throw r.Error("judge.model", $"is required for a {kind} judge (a path, \"sandbox:NAME\" or {{\"endpoint\": …, \"model\": …}})");
                if (model is not null && kind == "refusal") throw r.Error("judge.model", "is not used by the refusal judge (it matches phrases)");
                if (model is EndpointModelSpec && kind == "classifier") throw r.Error("judge.model", "must be local for a classifier judge (use type \"guard\" for an endpoint)");
                int defaultTokens = kind switch { "strongreject" => 512, "harmbench" => 4, "guard" => 24, _ => 16 };
                return new EvalJudgeSpec(kind, model, r.Int(o, "max_tokens", "judge.max_tokens", min: 1) ?? defaultTokens);
            default: throw r.Error("judge", $"must be {Expected}");
        }
    }
}
