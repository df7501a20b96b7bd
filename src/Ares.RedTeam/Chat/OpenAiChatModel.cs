using System.Net.Http.Headers;
using System.Text.Json;
using Ares.Core.Tokenization;

namespace Ares.RedTeam.Chat;

/// <summary>Running totals of one endpoint model, for reports: attempts sent, retries, samples that ended failed.</summary>
internal sealed record EndpointCounters(long RequestsSent, long Retries, long Failures, long Successes);

/// <summary>
/// A chat model behind an OpenAI-compatible <c>/v1/chat/completions</c> endpoint (vLLM, Ollama,
/// llama.cpp server). Each sample is its own request (<c>n</c> is not portable: llama.cpp ignores
/// it) with <c>seed</c> = Seed + j, so samples differ but a seeded run repeats.
/// Failures are retried (429, 5xx, 408, timeouts, connection errors, bodies that are not a chat
/// completion) with capped exponential backoff and jitter, honouring Retry-After on 429/503;
/// other 4xx fail at once. A request that still fails becomes <see cref="ChatResult.Failure"/>:
/// this class never throws for a failed request and never drops a sample.
/// The API key is read from the environment once and only ever written into the Authorization
/// header; it is scrubbed from any response text that ends up in a failure reason.
/// </summary>
internal sealed class OpenAiChatModel : IChatModel
{
    const int ExcerptChars = 200;

    readonly EndpointOptions _options;
    readonly string _url;
    readonly string? _apiKey;
    readonly HttpClient _http;
    readonly SemaphoreSlim _slots;
    readonly Func<TimeSpan, CancellationToken, Task> _delay;
    readonly TimeProvider _time;
    long _requests, _retries, _failures, _successes;

    /// <param name="options">Validated here; an invalid field or a missing key variable throws <see cref="ArgumentException"/>.</param>
    /// <param name="handler">For tests or proxies; not disposed by this model. Null = a pooled <see cref="SocketsHttpHandler"/>.</param>
    /// <param name="delay">How backoff waits; tests pass one that records and returns at once. Null = <see cref="Task.Delay(TimeSpan, CancellationToken)"/>.</param>
    /// <param name="time">The clock for HTTP-date Retry-After values. Null = system time.</param>
    public OpenAiChatModel(EndpointOptions options, HttpMessageHandler? handler = null,
        Func<TimeSpan, CancellationToken, Task>? delay = null, TimeProvider? time = null)
    {
        options.Validate();
        _options = options;
        _url = options.CompletionsUrl;
        if (options.ApiKeyEnv is { } env)
        {
            _apiKey = Environment.GetEnvironmentVariable(env);
            if (string.IsNullOrEmpty(_apiKey))
                throw new ArgumentException($"ApiKeyEnv: environment variable '{env}' is not set or empty (it should hold the API key for {_url})");
        }
        _http = handler is null
            ? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = options.RequestTimeout })
            : new HttpClient(handler, disposeHandler: false);
        // Our own per-attempt timeout governs, so that a timeout is told apart from the caller's cancellation.
        _http.Timeout = Timeout.InfiniteTimeSpan;
        _slots = new SemaphoreSlim(options.MaxConcurrency, options.MaxConcurrency);
        _delay = delay ?? Task.Delay;
        _time = time ?? TimeProvider.System;
        Identity = ModelIdentity.ForEndpoint(_url, options.Model);
    }

    public ModelIdentity Identity { get; }

    public EndpointOptions Options => _options;

    public EndpointCounters Counters => new(Interlocked.Read(ref _requests), Interlocked.Read(ref _retries),
        Interlocked.Read(ref _failures), Interlocked.Read(ref _successes));

    public override string ToString() => $"OpenAiChatModel({Identity})";

    public async Task<IReadOnlyList<IReadOnlyList<ChatResult>>> CompleteAsync(
        IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, ChatSampling sampling, int samples, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        if (sampling.MaxTokens < 1) throw new ArgumentException($"ChatSampling.MaxTokens: must be at least 1 (got {sampling.MaxTokens})");
        var tasks = new Task<ChatResult>[conversations.Count][];
        for (var i = 0; i < conversations.Count; i++)
        {
            tasks[i] = new Task<ChatResult>[samples];
            for (var j = 0; j < samples; j++)
                tasks[i][j] = CompleteOneAsync(RequestBody(conversations[i], sampling, j), ct);
        }
        await Task.WhenAll(tasks.SelectMany(t => t)).ConfigureAwait(false);
        return tasks.Select(row => (IReadOnlyList<ChatResult>)row.Select(t => t.Result).ToArray()).ToArray();
    }

    byte[] RequestBody(IReadOnlyList<ChatMessage> conversation, ChatSampling sampling, int sample)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", _options.Model);
            w.WriteStartArray("messages");
            foreach (var m in conversation)
            {
                w.WriteStartObject();
                w.WriteString("role", m.Role);
                w.WriteString("content", m.Content);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("temperature", sampling.Temperature);
            w.WriteNumber("top_p", sampling.TopP);
            w.WriteNumber("max_tokens", sampling.MaxTokens);
            if (sampling.Seed is long seed) w.WriteNumber("seed", seed + sample);
            w.WriteBoolean("stream", false);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>One sample: attempts until a completion, a non-retryable status, or the retry budget is spent.</summary>
    async Task<ChatResult> CompleteOneAsync(byte[] body, CancellationToken ct)
    {
        var attempts = _options.MaxRetries + 1;
        for (var attempt = 1; ; attempt++)
        {
            var outcome = await AttemptAsync(body, ct).ConfigureAwait(false);
            if (outcome.Result is { } ok)
            {
                Interlocked.Increment(ref _successes);
                return ok;
            }
            if (!outcome.Retryable || attempt == attempts)
            {
                Interlocked.Increment(ref _failures);
                var tries = outcome.Retryable ? $"after {attempts} attempt{(attempts == 1 ? "" : "s")}" : "not retried";
                return ChatResult.Failure($"{_options.Model} @ {_url}: {outcome.Error} ({tries})");
            }
            Interlocked.Increment(ref _retries);
            await _delay(WaitBeforeRetry(attempt - 1, outcome.RetryAfter), ct).ConfigureAwait(false);
        }
    }

    /// <summary>Retry r (0-based) waits base·2^r capped, times a jitter in [0.5, 1); a Retry-After (capped) is a floor.</summary>
    internal TimeSpan WaitBeforeRetry(int retry, TimeSpan? retryAfter)
    {
        var exponential = Math.Min(_options.BackoffMax.TotalSeconds, _options.BackoffBase.TotalSeconds * Math.Pow(2, Math.Min(retry, 30)));
        var backoff = TimeSpan.FromSeconds(exponential * (0.5 + 0.5 * Random.Shared.NextDouble()));
        if (retryAfter is not { } ra) return backoff;
        var honoured = ra < _options.RetryAfterMax ? ra : _options.RetryAfterMax;
        return honoured > backoff ? honoured : backoff;
    }

    readonly record struct Attempt(ChatResult? Result, string? Error, bool Retryable, TimeSpan? RetryAfter);

    async Task<Attempt> AttemptAsync(byte[] body, CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.RequestTimeout);
            using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            if (_apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
            Interlocked.Increment(ref _requests);
            try
            {
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    var (result, error) = ParseCompletion(text);
                    return result is not null ? new(result, null, false, null) : new(null, $"HTTP {status} with {error}: {Excerpt(text)}", true, null);
                }
                var retryable = status is 408 or 429 || status >= 500;
                var retryAfter = status is 429 or 503 ? RetryAfter(response) : null;
                return new(null, $"HTTP {status} {response.ReasonPhrase}: {Excerpt(text)}", retryable, retryAfter);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return new(null, $"no complete response within {_options.RequestTimeout.TotalSeconds:0.###} s", true, null);
            }
            catch (HttpRequestException e)
            {
                return new(null, $"connection error: {Scrub(e.Message)}", true, null);
            }
            catch (IOException e)
            {
                return new(null, $"connection error while reading the response: {Scrub(e.Message)}", true, null);
            }
        }
        finally { _slots.Release(); }
    }

    TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }

    /// <summary>
    /// Reads <c>choices[0].message.content</c> and <c>finish_reason</c>; anything else (an error
    /// object with status 200, no choices, non-string content) is an error to retry.
    /// </summary>
    internal static (ChatResult? Result, string? Error) ParseCompletion(string text)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException) { return (null, "a body that is not JSON"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return (null, "a JSON body that is not an object");
            if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
                return (null, root.TryGetProperty("error", out _) ? "an error object instead of a completion" : "no 'choices' array");
            var choice = choices[0];
            if (choice.ValueKind != JsonValueKind.Object || !choice.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
                return (null, "no 'choices[0].message' object");
            if (!message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                return (null, "no string 'choices[0].message.content'");
            var finish = choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "unknown";
            return (ChatResult.Success(content.GetString()!, finish), null);
        }
    }

    /// <summary>A short single-line excerpt of a response body for a failure reason, with the key scrubbed first.</summary>
    string Excerpt(string body)
    {
        var oneLine = Scrub(string.Join(' ', body.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
        if (oneLine.Length == 0) return "(empty body)";
        return oneLine.Length > ExcerptChars ? oneLine[..ExcerptChars] + "…" : oneLine;
    }

    /// <summary>A server (or proxy) may echo request headers back; the key must not reach a stored failure reason.</summary>
    string Scrub(string s) => _apiKey is null ? s : s.Replace(_apiKey, "[api-key]", StringComparison.Ordinal);

    public void Dispose()
    {
        _http.Dispose();
        _slots.Dispose();
    }
}
