using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatMessage = Ares.Core.Tokenization.ChatMessage;
using Microsoft.Extensions.AI;
using OpenAI;
using Polly.Timeout;

namespace Ares.RedTeam.Chat;

/// <summary>Running totals of one endpoint model, for reports: attempts sent, retries, samples that ended failed.</summary>
internal sealed record EndpointCounters(long RequestsSent, long Retries, long Failures, long Successes);

/// <summary>
/// A chat model behind an OpenAI-compatible <c>/v1/chat/completions</c> endpoint (vLLM, Ollama,
/// llama.cpp server, <c>ares serve</c>), as a Microsoft.Extensions.AI <see cref="IChatClient"/>: the
/// official OpenAI client (<c>Microsoft.Extensions.AI.OpenAI</c>'s <c>AsIChatClient</c>) sending
/// through <see cref="EndpointResilience"/> (Polly: retry with Retry-After, concurrency limit,
/// per-attempt timeout, body check), wrapped in <see cref="ChatClientModel"/> for Ares's accounting.
/// Each sample is its own request (<c>n</c> is not portable: llama.cpp ignores it) with
/// <c>seed</c> = Seed + j, so samples differ but a seeded run repeats. A request that still fails
/// becomes <see cref="ChatResult.Failure"/>: never a throw, never a dropped sample.
/// The API key is read from the environment once and only ever written into the Authorization
/// header; it is scrubbed from any text that ends up in a failure reason.
/// </summary>
internal sealed class OpenAiChatModel : IChatModel
{
    const int ExcerptChars = 200;

    readonly EndpointOptions _options;
    readonly string? _apiKey;
    readonly HttpClient _http;
    readonly EndpointTraffic _traffic = new();
    readonly ChatClientModel _model;

    /// <param name="options">Validated here; an invalid field or a missing key variable throws <see cref="ArgumentException"/>.</param>
    /// <param name="handler">For tests or proxies; not disposed by this model. Null = a pooled <see cref="SocketsHttpHandler"/>.</param>
    /// <param name="delay">How backoff waits; tests pass one that records and returns at once. Null = Polly's own wait.</param>
    /// <param name="time">The clock for HTTP-date Retry-After values. Null = system time.</param>
    public OpenAiChatModel(EndpointOptions options, HttpMessageHandler? handler = null,
        Func<TimeSpan, CancellationToken, Task>? delay = null, TimeProvider? time = null)
    {
        options.Validate();
        _options = options;
        var url = options.CompletionsUrl;
        if (options.ApiKeyEnv is { } env)
        {
            _apiKey = Environment.GetEnvironmentVariable(env);
            if (string.IsNullOrEmpty(_apiKey))
                throw new ArgumentException($"ApiKeyEnv: environment variable '{env}' is not set or empty (it should hold the API key for {url})");
        }
        var pipeline = EndpointResilience.Create(options, handler, CompletionBodyError, _traffic, delay, time);
        _http = new HttpClient(new PortableRequestHandler(sendAuthorization: _apiKey is not null) { InnerHandler = pipeline })
        {
            // The pipeline's per-attempt timeout governs, so that a timeout is told apart from the caller's cancellation.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var client = new OpenAI.Chat.ChatClient(options.Model, new ApiKeyCredential(_apiKey ?? "no-key"), new OpenAIClientOptions
        {
            Endpoint = new Uri(url[..^"/chat/completions".Length]),
            Transport = new HttpClientPipelineTransport(_http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // retries are the resilience pipeline's, counted and capped there
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        });
        Identity = ModelIdentity.ForEndpoint(url, options.Model);
        _model = new ChatClientModel(client.AsIChatClient(), Identity, ownsClient: true, describe: Describe);
    }

    public ModelIdentity Identity { get; }

    public EndpointOptions Options => _options;

    /// <summary>The M.E.AI client (OpenAI client over the resilience pipeline), for middleware or direct use; owned by this model.</summary>
    public IChatClient ChatClient => _model.Client;

    public EndpointCounters Counters => new(_traffic.Attempts, _traffic.Retries, _model.Failures, _model.Successes);

    public override string ToString() => $"OpenAiChatModel({Identity})";

    public Task<IReadOnlyList<IReadOnlyList<ChatResult>>> CompleteAsync(
        IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, ChatSampling sampling, int samples, CancellationToken ct = default) =>
        _model.CompleteAsync(conversations, sampling, samples, ct);

    /// <summary>Retry r (0-based) waits base·2^r capped, times a jitter in [0.5, 1); a Retry-After (capped) is a floor.</summary>
    internal TimeSpan WaitBeforeRetry(int retry, TimeSpan? retryAfter) => EndpointResilience.WaitBeforeRetry(_options, retry, retryAfter);

    /// <summary>A failure reason from what the client threw once the pipeline gave up: status and body, timeout, or connection error, and whether it was retried.</summary>
    string Describe(Exception e)
    {
        var (what, retried) = e switch
        {
            ClientResultException { Status: > 0 } c =>
                ($"HTTP {c.Status} {c.GetRawResponse()?.ReasonPhrase}: {Excerpt(c.GetRawResponse()?.Content?.ToString() ?? "")}", EndpointResilience.IsTransient(c.Status)),
            _ when Find<TimeoutRejectedException>(e) is not null => ($"no complete response within {_options.RequestTimeout.TotalSeconds:0.###} s", true),
            _ when Find<HttpRequestException>(e) is { } h => ($"connection error: {h.Message}", true),
            _ => ($"{e.GetType().Name}: {e.Message}", false),
        };
        var attempts = _options.MaxRetries + 1;
        return Scrub($"{what} ({(retried ? $"after {attempts} attempt{(attempts == 1 ? "" : "s")}" : "not retried")})");
    }

    static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
            if (e is T t) return t;
        return null;
    }

    /// <summary>
    /// What is wrong with a 2xx body for a chat completion: it must be an object with
    /// <c>choices[0].message.content</c> a string. Null when usable. An error object sent with
    /// status 200, no choices or non-string content are errors to retry.
    /// </summary>
    internal static string? CompletionBodyError(string text)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException) { return "a body that is not JSON"; }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return "a JSON body that is not an object";
            if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
                return root.TryGetProperty("error", out _) ? "an error object instead of a completion" : "no 'choices' array";
            var choice = choices[0];
            if (choice.ValueKind != JsonValueKind.Object || !choice.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
                return "no 'choices[0].message' object";
            if (!message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                return "no string 'choices[0].message.content'";
            return null;
        }
    }

    /// <summary>A short single-line excerpt of a response body for a failure reason.</summary>
    static string Excerpt(string body)
    {
        var oneLine = string.Join(' ', body.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        if (oneLine.Length == 0) return "(empty body)";
        return oneLine.Length > ExcerptChars ? oneLine[..ExcerptChars] + "…" : oneLine;
    }

    /// <summary>A server (or proxy) may echo request headers back; the key must not reach a stored failure reason.</summary>
    string Scrub(string s) => _apiKey is null ? s : s.Replace(_apiKey, "[api-key]", StringComparison.Ordinal);

    /// <summary>
    /// Makes the OpenAI client's request portable to local servers, once per request (outside the
    /// retries): no Authorization header without a key (the client always sends one), and the
    /// length cap also as <c>max_tokens</c>, which Ollama and older servers read instead of
    /// <c>max_completion_tokens</c>.
    /// </summary>
    sealed class PortableRequestHandler(bool sendAuthorization) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (!sendAuthorization) request.Headers.Authorization = null;
            if (request.Content is { } content && JsonNode.Parse(await content.ReadAsStringAsync(ct).ConfigureAwait(false)) is JsonObject body
                && body["max_completion_tokens"] is { } cap && !body.ContainsKey("max_tokens"))
            {
                body["max_tokens"] = cap.DeepClone();
                var rewritten = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
                request.Content = rewritten;
                content.Dispose();
            }
            return await base.SendAsync(request, ct).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _model.Dispose();
        _http.Dispose();
    }
}
