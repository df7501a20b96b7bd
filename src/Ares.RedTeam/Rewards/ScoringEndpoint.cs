using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.RedTeam.Chat;

namespace Ares.RedTeam.Rewards;

/// <summary>What one exchange scored: label names (null where the API does not name them) and one number per label, or why there is none.</summary>
internal sealed record ScoreOutcome(IReadOnlyList<string?> Labels, IReadOnlyList<double> Values, string? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// A reward model or classifier served over HTTP (vLLM's pooling and classify APIs,
/// text-embeddings-inference's predict API), one request per exchange through the same
/// <see cref="EndpointResilience"/> pipeline as chat endpoints: 429 + Retry-After, 5xx, timeouts,
/// malformed or truncated bodies and dropped connections are retried, and an exchange that still
/// fails ends in one <see cref="ScoreOutcome"/> with <see cref="ScoreOutcome.Error"/> set.
/// The exchange is sent as the server expects it: vLLM gets chat <c>messages</c> (user prompt,
/// assistant response; the server applies the model's chat template), TEI a (prompt, response)
/// pair, as cross-encoder classifiers and reward models read it. The key comes from the variable
/// named by <see cref="EndpointOptions.ApiKeyEnv"/> and is never stored or printed.
/// </summary>
internal sealed class ScoringEndpoint : IDisposable
{
    const int ExcerptChars = 200;

    readonly EndpointOptions _options;
    readonly string? _apiKey;
    readonly HttpClient _http;
    readonly EndpointTraffic _traffic = new();
    long _failures, _successes;

    public ScoringEndpoint(EndpointOptions options, ScoringApi api, HttpMessageHandler? handler = null,
        Func<TimeSpan, CancellationToken, Task>? delay = null)
    {
        options.Validate();
        _options = options;
        Api = api;
        var b = options.BaseUrl.TrimEnd('/');
        Url = b.EndsWith(api.Path(), StringComparison.Ordinal) ? b : b + api.Path();
        if (options.ApiKeyEnv is { } env)
        {
            _apiKey = Environment.GetEnvironmentVariable(env);
            if (string.IsNullOrEmpty(_apiKey))
                throw new ArgumentException($"ApiKeyEnv: environment variable '{env}' is not set or empty (it should hold the API key for {Url})");
        }
        _http = new HttpClient(EndpointResilience.Create(options, handler, text => Parse(api, text).Error, _traffic, delay))
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        Identity = ModelIdentity.ForEndpoint(Url, options.Model);
    }

    public ScoringApi Api { get; }
    public string Url { get; }
    public ModelIdentity Identity { get; }

    public EndpointCounters Counters => new(_traffic.Attempts, _traffic.Retries, Interlocked.Read(ref _failures), Interlocked.Read(ref _successes));

    public async Task<IReadOnlyList<ScoreOutcome>> ScoreAsync(IReadOnlyList<Exchange> exchanges, CancellationToken ct = default) =>
        await Task.WhenAll(exchanges.Select(e => ScoreOneAsync(e, ct))).ConfigureAwait(false);

    async Task<ScoreOutcome> ScoreOneAsync(Exchange exchange, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url) { Content = new StringContent(RequestBody(exchange), Encoding.UTF8, "application/json") };
        if (_apiKey is not null) request.Headers.Authorization = new("Bearer", _apiKey);
        string what;
        bool retried;
        try
        {
            using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref _successes);
                return Parse(Api, text);
            }
            var status = (int)response.StatusCode;
            (what, retried) = ($"HTTP {status} {response.ReasonPhrase}: {Excerpt(text)}", EndpointResilience.IsTransient(status));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
        catch (Polly.Timeout.TimeoutRejectedException) { (what, retried) = ($"no complete response within {_options.RequestTimeout.TotalSeconds:0.###} s", true); }
        catch (HttpRequestException e) { (what, retried) = ($"connection error: {e.Message}", true); }
        Interlocked.Increment(ref _failures);
        var attempts = _options.MaxRetries + 1;
        var tries = retried ? $"after {attempts} attempt{(attempts == 1 ? "" : "s")}" : "not retried";
        return new ScoreOutcome([], [], Scrub($"{Identity}: {what} ({tries})"));
    }

    string RequestBody(Exchange e)
    {
        var body = Api switch
        {
            ScoringApi.TeiPredict => new JsonObject
            {
                ["inputs"] = new JsonArray(new JsonArray(e.Prompt, e.Response)),
                ["raw_scores"] = false,
            },
            _ => new JsonObject
            {
                ["model"] = _options.Model,
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "user", ["content"] = e.Prompt },
                    new JsonObject { ["role"] = "assistant", ["content"] = e.Response }),
            },
        };
        return body.ToJsonString();
    }

    /// <summary>Reads one exchange's scores from a 2xx body; an outcome with Error set when the body is not what the API returns.</summary>
    internal static ScoreOutcome Parse(ScoringApi api, string text)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(text); }
        catch (JsonException) { return Bad("a body that is not JSON"); }
        switch (api)
        {
            case ScoringApi.VllmPooling:
                {
                    if (root is not JsonObject o || o["data"] is not JsonArray { Count: > 0 } data || data[0] is not JsonObject first || first["data"] is not { } pooled)
                        return Bad("no 'data[0].data' (a vLLM pooling response)");
                    // Sequence-level pooling returns [score]; token-level returns one row per token: the reward is at the last token.
                    var node = pooled;
                    while (node is JsonArray { Count: > 0 } a) node = a[^1];
                    return node is JsonValue v && v.TryGetValue<double>(out var score) ? new([null], [score], null) : Bad("'data[0].data' holds no number");
                }
            case ScoringApi.VllmClassify:
                {
                    if (root is not JsonObject o || o["data"] is not JsonArray { Count: > 0 } data || data[0] is not JsonObject first || first["probs"] is not JsonArray { Count: > 0 } probs)
                        return Bad("no 'data[0].probs' (a vLLM classify response)");
                    var values = new List<double>();
                    foreach (var p in probs)
                        if (p is JsonValue v && v.TryGetValue<double>(out var x)) values.Add(x);
                        else return Bad("'data[0].probs' holds a non-number");
                    return new(values.Select(_ => (string?)null).ToList(), values, null);
                }
            default:
                {
                    // One input: [{label, score}, …], or the batch form [[{label, score}, …]].
                    var list = root is JsonArray { Count: > 0 } outer && outer[0] is JsonArray inner ? inner : root as JsonArray;
                    if (list is null || list.Count == 0) return Bad("no list of {label, score} (a text-embeddings-inference predict response)");
                    var labels = new List<string?>();
                    var values = new List<double>();
                    foreach (var item in list)
                    {
                        if (item is not JsonObject p || p["label"] is not JsonValue l || !l.TryGetValue<string>(out var label)
                            || p["score"] is not JsonValue s || !s.TryGetValue<double>(out var score))
                            return Bad("a prediction without a string 'label' and a number 'score'");
                        labels.Add(label);
                        values.Add(score);
                    }
                    return new(labels, values, null);
                }
        }

        static ScoreOutcome Bad(string why) => new([], [], why);
    }

    static string Excerpt(string body)
    {
        var oneLine = string.Join(' ', body.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        if (oneLine.Length == 0) return "(empty body)";
        return oneLine.Length > ExcerptChars ? oneLine[..ExcerptChars] + "…" : oneLine;
    }

    string Scrub(string s) => _apiKey is null ? s : s.Replace(_apiKey, "[api-key]", StringComparison.Ordinal);

    public void Dispose() => _http.Dispose();
}
