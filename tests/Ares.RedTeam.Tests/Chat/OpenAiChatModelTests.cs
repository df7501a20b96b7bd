using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ares.Core.Tokenization;

namespace Ares.RedTeam.Chat;

public class OpenAiChatModelTests
{
    /// <summary>Records each backoff instead of sleeping, so retry tests run in milliseconds.</summary>
    sealed class DelayRecorder
    {
        readonly ConcurrentQueue<TimeSpan> _delays = new();
        public IReadOnlyList<TimeSpan> Delays => _delays.ToArray();
        public Task Delay(TimeSpan d, CancellationToken ct)
        {
            _delays.Enqueue(d);
            return Task.CompletedTask;
        }
    }

    sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    static EndpointOptions Options(FaultInjectingServer server, Func<EndpointOptions, EndpointOptions>? edit = null)
    {
        var o = new EndpointOptions { BaseUrl = server.BaseUrl, Model = "test-model", RequestTimeout = TimeSpan.FromSeconds(5) };
        return edit is null ? o : edit(o);
    }

    static IReadOnlyList<IReadOnlyList<ChatMessage>> Conversations(int n) =>
        Enumerable.Range(0, n).Select(i => (IReadOnlyList<ChatMessage>)[new ChatMessage("system", "be brief"), new ChatMessage("user", $"conv-{i}")]).ToArray();

    static readonly ChatSampling Seeded = new() { MaxTokens = 16, Temperature = 0.7, TopP = 0.9, Seed = 100 };

    [Fact]
    public async Task Every_sample_ends_in_exactly_one_success_or_recorded_failure_under_mixed_faults()
    {
        // 10 conversations × 3 samples = 30 requests; each (conversation, sample) gets a scripted
        // run of faults before its completion. With MaxRetries 3 a key with ≥ 4 faults fails, a
        // 401 fails at once, the rest succeed after exactly faults + 1 attempts.
        const int conversations = 10, samples = 3, maxRetries = 3;
        var rng = new Random(20260501);
        Func<ServerReply>[] kinds = [() => ServerReply.TooManyRequests("0"), ServerReply.ServerError, ServerReply.Hanging, ServerReply.MalformedJson, () => ServerReply.Unauthorized()];
        var scripts = new Dictionary<(int, int), int[]>();
        for (var i = 0; i < conversations; i++)
            for (var j = 0; j < samples; j++)
                scripts[(i, j)] = Enumerable.Range(0, rng.Next(0, 6)).Select(_ => rng.NextDouble() < 0.08 ? kinds.Length - 1 : rng.Next(kinds.Length - 1)).ToArray();
        var attemptsSeen = new ConcurrentDictionary<(int, int), int>();
        using var server = new FaultInjectingServer(r =>
        {
            var key = (int.Parse(r.LastContent["conv-".Length..]), (int)(r.Seed!.Value - Seeded.Seed!.Value));
            var attempt = attemptsSeen.AddOrUpdate(key, 1, (_, n) => n + 1) - 1;
            var faults = scripts[key];
            return attempt < faults.Length ? kinds[faults[attempt]]() : ServerReply.Completion($"reply {key.Item1}/{key.Item2}");
        });
        var delays = new DelayRecorder();
        // 2 s: the scripted 5 s stalls time out; ordinary requests do not, even on a loaded machine.
        using var model = new OpenAiChatModel(Options(server, o => o with { MaxRetries = maxRetries, MaxConcurrency = 8, RequestTimeout = TimeSpan.FromSeconds(2) }),
            delay: delays.Delay);

        var results = await model.CompleteAsync(Conversations(conversations), Seeded, samples);

        Assert.Equal(conversations, results.Count);
        int expectedFailures = 0, expectedRequests = 0;
        for (var i = 0; i < conversations; i++)
        {
            Assert.Equal(samples, results[i].Count);
            for (var j = 0; j < samples; j++)
            {
                var faults = scripts[(i, j)];
                var unauthorized = Array.IndexOf(faults, kinds.Length - 1);
                var attempts = unauthorized is >= 0 and <= maxRetries ? unauthorized + 1 : Math.Min(faults.Length + 1, maxRetries + 1);
                var fails = unauthorized is >= 0 and <= maxRetries || faults.Length > maxRetries;
                expectedRequests += attempts;
                Assert.Equal(attempts, attemptsSeen[(i, j)]);
                if (fails)
                {
                    expectedFailures++;
                    Assert.False(results[i][j].Ok, $"{i}/{j} should have failed");
                    Assert.Contains("test-model", results[i][j].Error);
                }
                else Assert.Equal($"reply {i}/{j}", results[i][j].Text);
            }
        }
        // The script really mixes outcomes: refused at once, failed after the budget, recovered after faults.
        Assert.Contains(scripts, kv => Array.IndexOf(kv.Value, kinds.Length - 1) is >= 0 and <= maxRetries);
        Assert.Contains(scripts, kv => kv.Value.Length > maxRetries && Array.IndexOf(kv.Value, kinds.Length - 1) < 0);
        Assert.Contains(scripts, kv => kv.Value.Length is > 0 and <= maxRetries && Array.IndexOf(kv.Value, kinds.Length - 1) < 0);
        Assert.Contains(scripts, kv => kv.Value.Contains(2) && kv.Value.Length <= maxRetries && Array.IndexOf(kv.Value, kinds.Length - 1) < 0);
        var c = model.Counters;
        Assert.Equal(expectedRequests, server.Requests.Count);
        Assert.Equal(expectedRequests, c.RequestsSent);
        Assert.Equal(expectedFailures, c.Failures);
        Assert.Equal(conversations * samples - expectedFailures, c.Successes);
        Assert.Equal(delays.Delays.Count, c.Retries);
    }

    [Fact]
    public async Task Retry_after_in_seconds_is_waited_out_in_real_time()
    {
        using var server = new FaultInjectingServer(r => r.Index == 0 ? ServerReply.TooManyRequests("1") : ServerReply.Completion("ok"));
        using var model = new OpenAiChatModel(Options(server, o => o with { BackoffBase = TimeSpan.FromMilliseconds(10), BackoffMax = TimeSpan.FromMilliseconds(10) }));

        var result = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];

        Assert.Equal("ok", result.Text);
        var requests = server.Ordered();
        Assert.Equal(2, requests.Count);
        // 1 s less 50 ms of timestamp granularity (measured 999.92 ms once); the backoff alone would be 10 ms.
        Assert.True(requests[1].ArrivedAt - requests[0].ArrivedAt >= TimeSpan.FromMilliseconds(950),
            $"second request came {(requests[1].ArrivedAt - requests[0].ArrivedAt).TotalMilliseconds} ms after the 429 with Retry-After: 1");
    }

    [Fact]
    public async Task Retry_after_as_an_http_date_is_honoured_and_a_huge_value_is_capped()
    {
        var now = new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
        using var server = new FaultInjectingServer(r => r.Index switch
        {
            0 => ServerReply.TooManyRequests(now.AddSeconds(7).ToString("R")),
            1 => ServerReply.TooManyRequests("3600") with { Status = 503 },
            _ => ServerReply.Completion("ok"),
        });
        var delays = new DelayRecorder();
        using var model = new OpenAiChatModel(Options(server, o => o with { RetryAfterMax = TimeSpan.FromSeconds(45) }), delay: delays.Delay, time: new FixedClock(now));

        var result = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];

        Assert.Equal("ok", result.Text);
        Assert.Equal([TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(45)], delays.Delays);
    }

    [Fact]
    public async Task Server_errors_back_off_exponentially_with_jitter_up_to_the_cap()
    {
        using var server = new FaultInjectingServer(r => r.Index < 4 ? ServerReply.ServerError() : ServerReply.Completion("ok"));
        var delays = new DelayRecorder();
        using var model = new OpenAiChatModel(Options(server, o => o with { BackoffBase = TimeSpan.FromSeconds(1), BackoffMax = TimeSpan.FromSeconds(3) }), delay: delays.Delay);

        var result = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];

        Assert.Equal("ok", result.Text);
        var d = delays.Delays.Select(x => x.TotalSeconds).ToArray();
        Assert.Equal(4, d.Length);
        Assert.InRange(d[0], 0.5, 1.0); // base · 2^0, jitter in [0.5, 1)
        Assert.InRange(d[1], 1.0, 2.0);
        Assert.InRange(d[2], 1.5, 3.0); // 4 s capped at 3
        Assert.InRange(d[3], 1.5, 3.0);
        Assert.Equal(new EndpointCounters(5, 4, 0, 1), model.Counters);
    }

    [Fact]
    public async Task Requests_in_flight_never_exceed_the_concurrency_limit()
    {
        using var server = new FaultInjectingServer(_ => ServerReply.Completion("ok", work: TimeSpan.FromMilliseconds(80)));
        using var model = new OpenAiChatModel(Options(server, o => o with { MaxConcurrency = 3 }));

        var results = await model.CompleteAsync(Conversations(8), Seeded, 3);

        Assert.All(results.SelectMany(r => r), r => Assert.Equal("ok", r.Text));
        Assert.Equal(24, server.Requests.Count);
        Assert.Equal(3, server.MaxInFlight); // reached, never exceeded
    }

    [Fact]
    public async Task Unauthorized_is_not_retried_and_reports_status_and_body()
    {
        using var server = new FaultInjectingServer(_ => ServerReply.Unauthorized());
        var delays = new DelayRecorder();
        using var model = new OpenAiChatModel(Options(server), delay: delays.Delay);

        var result = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];

        Assert.False(result.Ok);
        Assert.Contains("HTTP 401", result.Error);
        Assert.Contains("invalid api key", result.Error);
        Assert.Contains("not retried", result.Error);
        Assert.Single(server.Requests);
        Assert.Empty(delays.Delays);
        Assert.Equal(new EndpointCounters(1, 0, 1, 0), model.Counters);
    }

    [Fact]
    public async Task A_request_that_hangs_past_the_timeout_is_retried()
    {
        using var server = new FaultInjectingServer(r => r.Index == 0 ? ServerReply.Hanging() : ServerReply.Completion("after timeout"));
        var delays = new DelayRecorder();
        using var model = new OpenAiChatModel(Options(server, o => o with { RequestTimeout = TimeSpan.FromMilliseconds(500) }), delay: delays.Delay);

        var watch = Stopwatch.StartNew();
        var result = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];

        Assert.Equal("after timeout", result.Text);
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal(1, model.Counters.Retries);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}: the client waited for the hung server");
    }

    [Fact]
    public async Task The_callers_cancellation_throws_instead_of_becoming_a_failure()
    {
        using var server = new FaultInjectingServer(_ => ServerReply.Hanging());
        using var model = new OpenAiChatModel(Options(server));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => model.CompleteAsync(Conversations(2), new ChatSampling(), 2, cancel.Token));
        Assert.Equal(0, model.Counters.Retries);
    }

    [Fact]
    public async Task Malformed_and_unsupported_bodies_are_retried()
    {
        using var server = new FaultInjectingServer(r => r.Index switch
        {
            0 => ServerReply.MalformedJson(),
            1 => new ServerReply(200, """{"error":{"message":"model is loading"}}"""),
            2 => new ServerReply(200, """{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[]}}]}"""),
            _ => ServerReply.Completion("fine"),
        });
        var delays = new DelayRecorder();
        using var model = new OpenAiChatModel(Options(server), delay: delays.Delay);

        var result = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];

        Assert.Equal("fine", result.Text);
        Assert.Equal(4, server.Requests.Count);
    }

    [Fact]
    public async Task Exhausted_retries_become_a_failure_naming_the_last_error()
    {
        using var server = new FaultInjectingServer(_ => ServerReply.ServerError());
        var delays = new DelayRecorder();
        using var model = new OpenAiChatModel(Options(server, o => o with { MaxRetries = 2 }), delay: delays.Delay);

        var results = await model.CompleteAsync(Conversations(2), new ChatSampling(), 2);

        Assert.All(results.SelectMany(r => r), r =>
        {
            Assert.False(r.Ok);
            Assert.Contains("HTTP 500", r.Error);
            Assert.Contains("internal error", r.Error);
            Assert.Contains("after 3 attempts", r.Error);
        });
        Assert.Equal(12, server.Requests.Count);
        Assert.Equal(new EndpointCounters(12, 8, 4, 0), model.Counters);
    }

    [Fact]
    public async Task Connection_errors_are_retried_then_reported()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop(); // nothing listens there now
        var delays = new DelayRecorder();
        using var model = new OpenAiChatModel(new EndpointOptions { BaseUrl = $"http://127.0.0.1:{port}", Model = "m", MaxRetries = 1 }, delay: delays.Delay);

        var result = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];

        Assert.False(result.Ok);
        Assert.Contains("connection error", result.Error);
        Assert.Contains("after 2 attempts", result.Error);
        Assert.Equal(2, model.Counters.RequestsSent);
    }

    [Fact]
    public async Task Each_sample_is_its_own_request_with_sampling_fields_and_seed_plus_j()
    {
        using var server = new FaultInjectingServer(r => ServerReply.Completion($"seed {r.Seed}", finishReason: "length"));
        using var model = new OpenAiChatModel(Options(server, o => o with { BaseUrl = server.BaseUrl + "/v1/" }));

        var results = await model.CompleteAsync(Conversations(2), Seeded, 3);

        for (var i = 0; i < 2; i++)
            for (var j = 0; j < 3; j++)
                Assert.Equal(ChatResult.Success($"seed {100 + j}", "length"), results[i][j]);
        var requests = server.Ordered();
        Assert.Equal(6, requests.Count);
        Assert.All(requests, r =>
        {
            Assert.Equal("/v1/chat/completions", r.Path);
            Assert.Equal("test-model", r.Body["model"]!.GetValue<string>());
            Assert.Equal(0.7, r.Body["temperature"]!.GetValue<double>());
            Assert.Equal(0.9, r.Body["top_p"]!.GetValue<double>());
            Assert.Equal(16, r.Body["max_tokens"]!.GetValue<int>());
            Assert.False(r.Body.ContainsKey("n"));
            Assert.Null(r.Authorization);
            Assert.Equal(["system", "user"], r.Body["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()));
        });
        Assert.Equal([100L, 100, 101, 101, 102, 102], requests.Select(r => r.Seed!.Value).Order());

        _ = await model.CompleteAsync(Conversations(1), new ChatSampling(), 1);
        Assert.False(server.Ordered()[^1].Body.ContainsKey("seed"));
    }

    [Fact]
    public async Task Api_key_goes_in_the_bearer_header_and_nowhere_else()
    {
        var env = "ARES_TEST_KEY_" + Guid.NewGuid().ToString("N");
        var key = "sk-test-" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(env, key);
        try
        {
            // A careless server echoes the Authorization header in its error body.
            using var server = new FaultInjectingServer(r => r.Index == 0
                ? ServerReply.Completion("hello")
                : ServerReply.Unauthorized($$"""{"error":"bad key","echo":"{{r.Authorization}}"}"""));
            var options = Options(server, o => o with { ApiKeyEnv = env });
            using var model = new OpenAiChatModel(options);

            var ok = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];
            var failed = (await model.CompleteAsync(Conversations(1), new ChatSampling(), 1))[0][0];

            Assert.Equal("hello", ok.Text);
            Assert.All(server.Requests, r => Assert.Equal($"Bearer {key}", r.Authorization));
            Assert.False(failed.Ok);
            Assert.Contains("[api-key]", failed.Error);
            string[] visible = [failed.Error!, failed.ToString(), model.ToString(), model.Identity.ToString(), model.Identity.Location,
                model.Identity.ModelName ?? "", options.ToString(), model.Counters.ToString()];
            Assert.All(visible, s => Assert.DoesNotContain(key, s));

            // A missing variable is named; the value never existed to leak.
            var missing = Assert.Throws<ArgumentException>(() => new OpenAiChatModel(options with { ApiKeyEnv = env + "_MISSING" }));
            Assert.Contains(env + "_MISSING", missing.Message);
        }
        finally { Environment.SetEnvironmentVariable(env, null); }
    }

    [Fact]
    public void Identity_is_the_endpoint_url_and_model()
    {
        using var model = new OpenAiChatModel(new EndpointOptions { BaseUrl = "http://gpu-box:8000/", Model = "Qwen/Qwen3-1.7B" });
        Assert.Equal(ModelIdentity.ForEndpoint("http://gpu-box:8000/v1/chat/completions", "Qwen/Qwen3-1.7B"), model.Identity);
        Assert.Equal("http://h:11434/v1/chat/completions", new EndpointOptions { BaseUrl = "http://h:11434/v1", Model = "m" }.CompletionsUrl);
        Assert.Equal("http://h/api/chat/completions", new EndpointOptions { BaseUrl = "http://h/api/chat/completions", Model = "m" }.CompletionsUrl);
    }

    [Fact]
    public void Invalid_options_name_every_bad_field()
    {
        var bad = new EndpointOptions
        {
            BaseUrl = "ftp://x",
            Model = " ",
            ApiKeyEnv = "MY KEY",
            MaxConcurrency = 0,
            MaxRetries = -1,
            RequestTimeout = TimeSpan.Zero,
            BackoffBase = TimeSpan.FromSeconds(5),
            BackoffMax = TimeSpan.FromSeconds(1),
            RetryAfterMax = TimeSpan.FromSeconds(-1),
        };
        var errors = bad.Errors();
        foreach (var field in new[] { "BaseUrl", "Model", "ApiKeyEnv", "MaxConcurrency", "MaxRetries", "RequestTimeout", "BackoffMax", "RetryAfterMax" })
            Assert.Contains(errors, e => e.StartsWith(field + ":"));
        var thrown = Assert.Throws<ArgumentException>(() => new OpenAiChatModel(bad));
        Assert.Contains("MaxConcurrency", thrown.Message);

        var secretInUrl = new EndpointOptions { BaseUrl = "https://user:hunter2@host/v1?api_key=hunter3", Model = "m" }.Errors();
        Assert.Equal(2, secretInUrl.Count);
        Assert.All(secretInUrl, e => Assert.DoesNotContain("hunter", e));
        Assert.Empty(new EndpointOptions { BaseUrl = "http://127.0.0.1:8000", Model = "m" }.Errors());
    }
}
