using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Rewards;

namespace Ares.RedTeam.Probe;

/// <summary>Judge kinds: refusal patterns, a local classifier, or a Llama-Guard-style model (local or remote).</summary>
internal enum JudgeKind { Refusal, Classifier, Guard }

internal sealed record JudgeSpec(JudgeKind Kind, ModelSpec? Model);

internal sealed record MentorSpec(ModelSpec? Llm, int MaxAttempts)
{
    public bool IsTemplate => Llm is null;
}

/// <summary>
/// A probe run described in JSON (see README "Probe config"). Every field is checked; errors name
/// the file and the field. Relative paths resolve against the config file's folder.
/// </summary>
internal sealed record ProbeConfig
{
    public required string Source { get; init; }
    public required string RunId { get; init; }
    public required string StorePath { get; init; }
    /// <summary>null = the default catalog; else a catalog file.</summary>
    public string? CatalogPath { get; init; }
    /// <summary>Folder holding sandbox worlds; null = $ARES_HOME/sandbox or ~/.cache/ares/sandbox.</summary>
    public string? SandboxRoot { get; init; }
    public required ModelSpec Policy { get; init; }
    public required ModelSpec RewardModel { get; init; }
    public required JudgeSpec Judge { get; init; }
    public required MentorSpec Mentor { get; init; }
    public required ProbeOptions Options { get; init; }
    /// <summary>The config as written, normalised: stored with the run and compared on --resume.</summary>
    public required string NormalisedJson { get; init; }

    public static ProbeConfig Load(string path)
    {
        return Parse(ConfigReader.ReadFile(path, "probe config", m => new ProbeConfigException(m)), path);
    }

    public static ProbeConfig Parse(string json, string source)
    {
        var (root, r) = ConfigReader.Open(json, source, m => new ProbeConfigException(m));
        r.Known(root, "", "run", "store", "seed", "catalog", "sandbox_root", "policy", "reward_model", "judge", "mentor", "budget", "sampling", "selector", "taxonomy");

        var budget = r.Obj(root, "budget");
        var sampling = r.Obj(root, "sampling");
        var selector = r.Obj(root, "selector");
        var taxonomy = r.Obj(root, "taxonomy");
        r.Known(budget, "budget.", "cases", "samples", "batch");
        r.Known(sampling, "sampling.", "temperature", "top_p", "max_tokens");
        r.Known(selector, "selector.", "kind", "exploration", "systemic_weight", "policy_only_weight", "rm_only_weight", "gflownet");
        var gflownet = selector?["gflownet"] switch
        {
            null => null,
            JsonObject x => x,
            _ => throw r.Error("selector.gflownet", "must be an object"),
        };
        r.Known(gflownet, "selector.gflownet.", "reward_floor", "reward_exponent", "one_sided_weight", "revisit_discount", "steps", "trajectories", "learning_rate", "hidden");
        var defaultGfn = new GflowNetSelectorConfig();
        r.Known(taxonomy, "taxonomy.", "reward_margin");
        var defaults = new ProbeOptions();
        var defaultSelector = new SelectorConfig();
        var options = new ProbeOptions
        {
            Seed = r.Long(root, "seed", "seed") ?? defaults.Seed,
            Budget = r.Int(budget, "cases", "budget.cases", min: 1) ?? defaults.Budget,
            Samples = r.Int(budget, "samples", "budget.samples", min: 1) ?? defaults.Samples,
            BatchSize = r.Int(budget, "batch", "budget.batch", min: 1) ?? defaults.BatchSize,
            Sampling = new ChatSampling
            {
                Temperature = r.Dbl(sampling, "temperature", "sampling.temperature", 0, 5) ?? defaults.Sampling.Temperature,
                TopP = r.Dbl(sampling, "top_p", "sampling.top_p", 0, 1) ?? defaults.Sampling.TopP,
                MaxTokens = r.Int(sampling, "max_tokens", "sampling.max_tokens", min: 1) ?? defaults.Sampling.MaxTokens,
            },
            Selector = new SelectorConfig
            {
                Kind = r.Str(selector, "kind", "selector.kind") switch
                {
                    null or "adaptive" => SelectorKind.Adaptive,
                    "gflownet" => SelectorKind.GflowNet,
                    var k => throw r.Error("selector.kind", $"must be adaptive or gflownet, got '{k}'"),
                },
                GflowNet = new GflowNetSelectorConfig
                {
                    RewardFloor = r.Dbl(gflownet, "reward_floor", "selector.gflownet.reward_floor", 1e-9, 1) ?? defaultGfn.RewardFloor,
                    RewardExponent = r.Dbl(gflownet, "reward_exponent", "selector.gflownet.reward_exponent", 1e-3, 16) ?? defaultGfn.RewardExponent,
                    OneSidedWeight = r.Dbl(gflownet, "one_sided_weight", "selector.gflownet.one_sided_weight", 0, 1) ?? defaultGfn.OneSidedWeight,
                    RevisitDiscount = r.Dbl(gflownet, "revisit_discount", "selector.gflownet.revisit_discount", 1e-9, 1) ?? defaultGfn.RevisitDiscount,
                    Steps = r.Int(gflownet, "steps", "selector.gflownet.steps", min: 1) ?? defaultGfn.Steps,
                    Trajectories = r.Int(gflownet, "trajectories", "selector.gflownet.trajectories", min: 4) ?? defaultGfn.Trajectories,
                    LearningRate = r.Dbl(gflownet, "learning_rate", "selector.gflownet.learning_rate", 1e-9, 1) ?? defaultGfn.LearningRate,
                    Hidden = r.Int(gflownet, "hidden", "selector.gflownet.hidden", min: 1) ?? defaultGfn.Hidden,
                },
                Exploration = r.Dbl(selector, "exploration", "selector.exploration", 0, 1) ?? defaultSelector.Exploration,
                SystemicWeight = r.Dbl(selector, "systemic_weight", "selector.systemic_weight", 0, 1) ?? defaultSelector.SystemicWeight,
                PolicyOnlyWeight = r.Dbl(selector, "policy_only_weight", "selector.policy_only_weight", 0, 1) ?? defaultSelector.PolicyOnlyWeight,
                RmOnlyWeight = r.Dbl(selector, "rm_only_weight", "selector.rm_only_weight", 0, 1) ?? defaultSelector.RmOnlyWeight,
            },
            RewardMargin = r.Dbl(taxonomy, "reward_margin", "taxonomy.reward_margin", 0, 1e6) ?? 0,
        };

        var catalog = r.Str(root, "catalog", "catalog");
        return new ProbeConfig
        {
            Source = source,
            RunId = r.Str(root, "run", "run") is string id
                ? (id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && id.Length > 0 ? id : throw r.Error("run", "must use letters, digits, '-', '_' or '.'"))
                : Path.GetFileNameWithoutExtension(source),
            StorePath = r.PathOf(r.Str(root, "store", "store") ?? "ares-runs.db"),
            CatalogPath = catalog is null or "default" ? null : r.PathOf(catalog),
            SandboxRoot = r.Str(root, "sandbox_root", "sandbox_root") is string sr ? r.PathOf(sr) : null,
            Policy = r.ChatModel(root["policy"], "policy") ?? throw r.Error("policy", "is required (a path, \"sandbox:NAME\" or {\"endpoint\": …, \"model\": …})"),
            RewardModel = r.Model(root["reward_model"], "reward_model") is { } rm
                ? (rm is EndpointModelSpec { Api: not (ScoringApi.VllmPooling or ScoringApi.TeiPredict) }
                    ? throw r.Error("reward_model.api", "must be vllm-pooling or tei-predict for a reward model endpoint")
                    : rm)
                : throw r.Error("reward_model", "is required (a path to a *ForSequenceClassification model, \"sandbox:NAME\", or {\"endpoint\": …, \"api\": \"vllm-pooling\", \"model\": …})"),
            Judge = ReadJudge(r, root["judge"]),
            Mentor = ReadMentor(r, root["mentor"]),
            Options = options,
            NormalisedJson = root.ToJsonString(),
        };
    }

    /// <summary>The "judge" field: "refusal", "sandbox:NAME" or {"type": …, "model": …}; shared with the attack config.</summary>
    internal static JudgeSpec ReadJudge(ConfigReader r, JsonNode? node)
    {
        switch (node)
        {
            case null: throw r.Error("judge", "is required (\"refusal\", \"sandbox:NAME\", {\"type\": \"classifier\", \"model\": …} or {\"type\": \"guard\", \"model\": …})");
            case JsonValue v when v.TryGetValue<string>(out var s) && s == "refusal": return new JudgeSpec(JudgeKind.Refusal, null);
            case JsonValue v when v.TryGetValue<string>(out var s) && s.StartsWith("sandbox:", StringComparison.Ordinal):
                return new JudgeSpec(JudgeKind.Classifier, r.Model(v, "judge"));
            case JsonObject o:
                r.Known(o, "judge.", "type", "model");
                var kind = r.Str(o, "type", "judge.type") switch
                {
                    "refusal" => JudgeKind.Refusal,
                    "classifier" => JudgeKind.Classifier,
                    "guard" => JudgeKind.Guard,
                    var t => throw r.Error("judge.type", $"must be refusal, classifier or guard, got '{t}'"),
                };
                var model = r.Model(o["model"], "judge.model");
                if (kind != JudgeKind.Refusal && model is null) throw r.Error("judge.model", $"is required for a {r.Str(o, "type", "judge.type")} judge");
                if (kind == JudgeKind.Classifier && model is EndpointModelSpec { Api: not (ScoringApi.VllmClassify or ScoringApi.TeiPredict) })
                    throw r.Error("judge.model.api", "must be vllm-classify or tei-predict for a classifier judge endpoint (use type \"guard\" for a chat endpoint)");
                if (kind == JudgeKind.Guard && model is EndpointModelSpec { Api: not null })
                    throw r.Error("judge.model.api", "must be openai-chat (or absent) for a guard judge: it reads a chat model's verdict");
                return new JudgeSpec(kind, model);
            default:
                throw r.Error("judge", "must be \"refusal\", \"sandbox:NAME\" or an object with \"type\"");
        }
    }

    static MentorSpec ReadMentor(ConfigReader r, JsonNode? node)
    {
        switch (node)
        {
            case null: return new MentorSpec(null, 3);
            case JsonValue v when v.TryGetValue<string>(out var s) && s == "template": return new MentorSpec(null, 3);
            case JsonObject o:
                r.Known(o, "mentor.", "type", "model", "max_attempts");
                var type = r.Str(o, "type", "mentor.type") ?? "llm";
                var attempts = r.Int(o, "max_attempts", "mentor.max_attempts", 1) ?? 3;
                return type switch
                {
                    "template" => new MentorSpec(null, attempts),
                    "llm" => new MentorSpec(r.ChatModel(o["model"], "mentor.model") ?? throw r.Error("mentor.model", "is required for an LLM mentor"), attempts),
                    _ => throw r.Error("mentor.type", $"must be template or llm, got '{type}'"),
                };
            default:
                throw r.Error("mentor", "must be \"template\" or {\"type\": \"llm\", \"model\": …}");
        }
    }
}

/// <summary>A probe config that does not validate; the message names the file and the field.</summary>
internal sealed class ProbeConfigException(string message) : Exception(message);
