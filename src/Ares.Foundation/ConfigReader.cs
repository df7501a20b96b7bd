using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ares.Foundation;

/// <summary>
/// Strict field readers shared by the JSON configs (probe, repair, attack): every error names the
/// file and the field. <paramref name="fail"/> makes the exception the config type throws.
/// </summary>
internal sealed class ConfigReader(string source, string baseDir, Func<string, Exception> fail)
{
    readonly Func<string, Exception> _fail = fail;

    static readonly JsonDocumentOptions Lenient = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>
    /// A config file's text; a missing file is the config type's own error (<paramref name="fail"/>), as every
    /// other fault in it is, so the probe, repair, eval and attack configs all report it the same way.
    /// </summary>
    public static string ReadFile(string path, string what, Func<string, Exception> fail) =>
        File.Exists(path) ? File.ReadAllText(path) : throw fail($"{path}: {what} not found");

    /// <summary>
    /// Parses a config's JSON (comments and trailing commas allowed) into its top-level object and a reader whose
    /// relative paths resolve beside <paramref name="source"/>.
    /// </summary>
    public static (JsonObject Root, ConfigReader Reader) Open(string json, string source, Func<string, Exception> fail)
    {
        JsonObject root;
        try { root = JsonNode.Parse(json, documentOptions: Lenient) as JsonObject ?? throw fail($"{source}: expected a JSON object"); }
        catch (JsonException e) { throw fail($"{source}: not valid JSON ({e.Message})"); }
        return (root, new ConfigReader(source, Path.GetDirectoryName(Path.GetFullPath(source))!, fail));
    }

    public Exception Error(string field, string what) => _fail($"{source}: field '{field}' {what}");

    public string PathOf(string p) => Path.GetFullPath(Path.Combine(baseDir, p));

    public void Known(JsonObject? o, string prefix, params string[] names)
    {
        if (o is null) return;
        foreach (var (key, _) in o)
            if (!names.Contains(key)) throw _fail($"{source}: unknown field '{prefix}{key}' (expected one of {string.Join(", ", names)})");
    }

    public JsonObject? Obj(JsonObject o, string key) => o[key] switch
    {
        null => null,
        JsonObject x => x,
        _ => throw Error(key, "must be an object"),
    };

    public string? Str(JsonObject? o, string key, string field) => o?[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) && s.Length > 0 => s,
        _ => throw Error(field, "must be a non-empty string"),
    };

    public bool? Bool(JsonObject? o, string key, string field) => o?[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw Error(field, "must be true or false"),
    };

    public long? Long(JsonObject? o, string key, string field) => o?[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<long>(out var x) => x,
        _ => throw Error(field, "must be an integer"),
    };

    public int? Int(JsonObject? o, string key, string field, int min) => o?[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<int>(out var x) && x >= min => x,
        _ => throw Error(field, $"must be an integer ≥ {min}"),
    };

    public double? Dbl(JsonObject? o, string key, string field, double min, double max) => o?[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<double>(out var x) && x >= min && x <= max => x,
        _ => throw Error(field, $"must be a number in [{min}, {max}]"),
    };

    public ModelSpec? Model(JsonNode? node, string field)
    {
        switch (node)
        {
            case null: return null;
            case JsonValue v when v.TryGetValue<string>(out var s) && s.Length > 0:
                if (s.StartsWith("sandbox:", StringComparison.Ordinal))
                    return s.Length > "sandbox:".Length ? new SandboxModelSpec(s["sandbox:".Length..])
                        : throw Error(field, "names no sandbox world (expected \"sandbox:NAME\", e.g. \"sandbox:default\")");
                return new LocalModelSpec(PathOf(s));
            case JsonObject o when o.ContainsKey("endpoint"):
                Known(o, field + ".", "endpoint", "api", "model", "api_key_env", "concurrency", "timeout_s", "max_retries", "harmful_label", "harmful_index");
                var url = Str(o, "endpoint", field + ".endpoint")!;
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    throw Error(field + ".endpoint", $"must be an http(s) URL, got '{url}'");
                ScoringApi? api = Str(o, "api", field + ".api") switch
                {
                    null or "openai-chat" => null,
                    var a when ScoringApiNames.ByName.TryGetValue(a, out var known) => known,
                    var a => throw Error(field + ".api", $"must be openai-chat, {string.Join(", ", ScoringApiNames.ByName.Keys)}, got '{a}'"),
                };
                if (api is null && (o.ContainsKey("harmful_label") || o.ContainsKey("harmful_index")))
                    throw Error(field + ".harmful_label", "applies to classifier endpoints (api vllm-classify or tei-predict) only");
                return new EndpointModelSpec(url, Str(o, "model", field + ".model") ?? throw Error(field + ".model", "is required with an endpoint"),
                    Str(o, "api_key_env", field + ".api_key_env"),
                    Int(o, "concurrency", field + ".concurrency", 1) ?? 4,
                    Dbl(o, "timeout_s", field + ".timeout_s", 0.001, 3600) ?? 60,
                    o["max_retries"] is null ? 4 : Int(o, "max_retries", field + ".max_retries", 0)!.Value,
                    api, Str(o, "harmful_label", field + ".harmful_label"), Int(o, "harmful_index", field + ".harmful_index", 0));
            case JsonObject o when o.ContainsKey("path"):
                Known(o, field + ".", "path", "chat_format");
                return new LocalModelSpec(PathOf(Str(o, "path", field + ".path")!), Str(o, "chat_format", field + ".chat_format"));
            default:
                throw Error(field, "must be a path, \"sandbox:NAME\", {\"path\": …} or {\"endpoint\": …, \"model\": …}");
        }
    }

    /// <summary>A model that chats (policy, mentor): an endpoint must be OpenAI-compatible chat, not a scoring API.</summary>
    public ModelSpec? ChatModel(JsonNode? node, string field) => Model(node, field) is EndpointModelSpec { Api: { } api }
        ? throw Error(field + ".api", $"must be openai-chat (or absent) for a chat model, got '{api.Name()}'")
        : Model(node, field);
}
