using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Ares.RedTeam.Chat;

/// <summary>
/// The HTTP pipeline every Ares endpoint client sends through (chat completions, reward and
/// classifier endpoints), built from <see cref="EndpointOptions"/> on Polly via
/// Microsoft.Extensions.Http.Resilience's <see cref="ResilienceHandler"/>:
/// <list type="number">
/// <item><b>retry</b> (outermost): 408, 429, 5xx, timeouts, connection errors and bodies that are not
/// what the endpoint promises, <see cref="EndpointOptions.MaxRetries"/> times; retry r waits
/// base·2^r (capped) times a jitter in [0.5, 1), and at least a 429/503's Retry-After (capped);</item>
/// <item><b>concurrency limit</b>: <see cref="EndpointOptions.MaxConcurrency"/> attempts in flight, the
/// rest queue (a backing-off request holds no slot);</item>
/// <item><b>timeout</b> per attempt, headers and body: the body is read inside the attempt, so a
/// server that stalls mid-body times out like one that never answers;</item>
/// <item><b>body check</b>: a 2xx whose body fails <c>checkBody</c> (not JSON, truncated, an error
/// object) becomes a synthetic 502 naming what was wrong, which the retry sees as transient.</item>
/// </list>
/// </summary>
internal static class EndpointResilience
{
    /// <summary>A status worth another attempt: the server may answer differently next time.</summary>
    public static bool IsTransient(int status) => status is 408 or 429 || status >= 500;

    /// <param name="transport">The innermost handler (tests, proxies); not disposed by the pipeline. Null = a pooled <see cref="SocketsHttpHandler"/>.</param>
    /// <param name="checkBody">Returns what is wrong with a 2xx body (e.g. "a body that is not JSON"), or null when it is usable.</param>
    /// <param name="delay">How retries wait; null = Polly waits. Tests pass one that records and returns at once.</param>
    /// <param name="time">The clock for HTTP-date Retry-After values.</param>
    public static HttpMessageHandler Create(EndpointOptions options, HttpMessageHandler? transport, Func<string, string?> checkBody,
        EndpointTraffic traffic, Func<TimeSpan, CancellationToken, Task>? delay = null, TimeProvider? time = null)
    {
        var clock = time ?? TimeProvider.System;
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (options.MaxRetries > 0)
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxRetries,
                ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome)),
                DelayGenerator = async args =>
                {
                    var wait = WaitBeforeRetry(options, args.AttemptNumber, RetryAfter(args.Outcome.Result, clock));
                    if (delay is null) return wait;
                    await delay(wait, args.Context.CancellationToken).ConfigureAwait(false);
                    return TimeSpan.Zero; // already waited
                },
                OnRetry = _ =>
                {
                    traffic.CountRetry();
                    return default;
                },
            });
        var pipeline = builder
            .AddConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = options.MaxConcurrency, QueueLimit = int.MaxValue })
            .AddTimeout(options.RequestTimeout)
            .Build();
        var inner = transport is null
            ? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = options.RequestTimeout }
            : (HttpMessageHandler)new BorrowedHandler(transport);
        return new ResilienceHandler(pipeline) { InnerHandler = new AttemptHandler(checkBody, traffic) { InnerHandler = inner } };
    }

    static bool IsTransient(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Exception: HttpRequestException or TimeoutRejectedException } => true,
        { Exception: null, Result: { } r } => IsTransient((int)r.StatusCode),
        _ => false,
    };

    /// <summary>Retry r (0-based) waits base·2^r capped, times a jitter in [0.5, 1); a Retry-After (capped) is a floor.</summary>
    internal static TimeSpan WaitBeforeRetry(EndpointOptions options, int retry, TimeSpan? retryAfter)
    {
        var exponential = Math.Min(options.BackoffMax.TotalSeconds, options.BackoffBase.TotalSeconds * Math.Pow(2, Math.Min(retry, 30)));
        var backoff = TimeSpan.FromSeconds(exponential * (0.5 + 0.5 * Random.Shared.NextDouble()));
        if (retryAfter is not { } ra) return backoff;
        var honoured = ra < options.RetryAfterMax ? ra : options.RetryAfterMax;
        return honoured > backoff ? honoured : backoff;
    }

    static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeProvider clock)
    {
        if (response is null || (int)response.StatusCode is not (429 or 503)) return null;
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date)
        {
            var wait = date - clock.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }

    /// <summary>
    /// One attempt: counts it, reads the whole body under the attempt's timeout, and turns a 2xx
    /// body that fails the check into a 502 the retry handles. A connection that drops mid-body is
    /// an <see cref="HttpRequestException"/>, which the retry also handles.
    /// </summary>
    sealed class AttemptHandler(Func<string, string?> checkBody, EndpointTraffic traffic) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            traffic.CountAttempt();
            var response = await base.SendAsync(request, ct).ConfigureAwait(false);
            try
            {
                await response.Content.LoadIntoBufferAsync(ct).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                response.Dispose();
                throw new HttpRequestException($"the connection broke while reading the response ({e.Message})", e);
            }
            catch (HttpRequestException)
            {
                response.Dispose();
                throw;
            }
            if (!response.IsSuccessStatusCode) return response;
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (checkBody(text) is not { } problem) return response;
            var status = (int)response.StatusCode;
            response.Dispose();
            return new HttpResponseMessage(HttpStatusCode.BadGateway)
            {
                ReasonPhrase = "Unusable Response",
                RequestMessage = request,
                Content = new StringContent($"HTTP {status} with {problem}: {text}", Encoding.UTF8, new MediaTypeHeaderValue("text/plain")),
            };
        }
    }

    /// <summary>Forwards to a handler the caller owns, without disposing it with the pipeline.</summary>
    sealed class BorrowedHandler(HttpMessageHandler handler) : HttpMessageHandler
    {
        readonly HttpMessageInvoker _invoker = new(handler, disposeHandler: false);
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) => _invoker.SendAsync(request, ct);
        protected override void Dispose(bool disposing)
        {
            if (disposing) _invoker.Dispose();
            base.Dispose(disposing);
        }
    }
}
