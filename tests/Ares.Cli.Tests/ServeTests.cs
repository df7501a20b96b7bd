using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Ares.Cli.Serve;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Tests;
using ChatMessage = Ares.Core.Tokenization.ChatMessage;

namespace Ares.Cli.Tests;

/// <summary>`ares serve` driven by plain HTTP and by Ares's own endpoint client, on a tiny random-weight ChatML model.</summary>
public sealed class ServeTests : IAsyncLifetime
{
    readonly TempDirectory _dir = new();
    ChatServer _server = null!;
    readonly HttpClient _http = new();

    public async Task InitializeAsync()
    {
        var path = TinyHfDirectory.Write(_dir.File("tiny-chat"), "qwen3", maxPositions: 128);
        // A wide gather window so concurrent test requests reliably meet in one batch.
        _server = await ChatServer.StartAsync(LocalChatModel.Load(path), "tiny-chat", gatherWindow: TimeSpan.FromMilliseconds(150));
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    Task<HttpResponseMessage> Post(string json, CancellationToken ct = default) =>
        _http.PostAsync(_server.Url + "/v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"), ct);

    static async Task<JsonObject> Json(HttpResponseMessage r) => JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject();

    const string Hello = """[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]""";

    [Fact]
    public async Task Plain_http_gets_models_completions_with_n_and_errors_in_openais_shape()
    {
        Assert.StartsWith("http://127.0.0.1:", _server.Url);
        var models = await Json(await _http.GetAsync(_server.Url + "/v1/models"));
        Assert.Equal("tiny-chat", models["data"]![0]!["id"]!.GetValue<string>());

        var ok = await Post($$"""{"model": "tiny-chat", "messages": {{Hello}}, "n": 3, "temperature": 0.9, "top_p": 0.95, "max_tokens": 5, "seed": 4}""");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var body = await Json(ok);
        Assert.Equal("chat.completion", body["object"]!.GetValue<string>());
        var choices = body["choices"]!.AsArray();
        Assert.Equal([0, 1, 2], choices.Select(c => c!["index"]!.GetValue<int>()));
        Assert.All(choices, c => Assert.Contains(c!["finish_reason"]!.GetValue<string>(), (string[])["stop", "length"]));
        // Same seed, same answers: a seeded request runs alone, whatever else is queued.
        var again = await Json(await Post($$"""{"messages": {{Hello}}, "n": 3, "temperature": 0.9, "top_p": 0.95, "max_tokens": 5, "seed": 4}"""));
        Assert.Equal(choices.ToJsonString(), again["choices"]!.ToJsonString());

        async Task BadRequest(string json, int status, string param, string code)
        {
            var r = await Post(json);
            Assert.Equal(status, (int)r.StatusCode);
            var e = (await Json(r))["error"]!;
            Assert.Equal("invalid_request_error", e["type"]!.GetValue<string>());
            Assert.Equal(code, e["code"]!.GetValue<string>());
            if (param.Length > 0) Assert.Equal(param, e["param"]!.GetValue<string>());
            Assert.False(string.IsNullOrWhiteSpace(e["message"]!.GetValue<string>()));
        }
        await BadRequest($$"""{"messages": {{Hello}}, "temperature": 7}""", 400, "temperature", "invalid_value");
        await BadRequest($$"""{"messages": {{Hello}}, "n": 0}""", 400, "n", "invalid_value");
        await BadRequest("""{"messages": [{"role": "robot", "content": "x"}]}""", 400, "messages[0].role", "invalid_value");
        await BadRequest($$"""{"messages": {{Hello}}, "tools": []}""", 400, "tools", "unknown_parameter");
        await BadRequest($$"""{"model": "gpt-4", "messages": {{Hello}}}""", 404, "model", "model_not_found");
        await BadRequest("""{"messages": [""", 400, "", "invalid_json");
        await BadRequest($$"""{"messages": [{"role": "user", "content": "{{string.Join(" ", Enumerable.Repeat("word", 200))}}"}]}""", 400, "messages", "context_length_exceeded");
    }

    [Fact]
    public void Stop_sequences_cut_the_text_before_the_first_match()
    {
        Assert.Equal(("Hello ", "stop"), ChatServer.ApplyStop("Hello world. Bye", "length", ["wor", "Bye"]));
        Assert.Equal(("Hello", "length"), ChatServer.ApplyStop("Hello", "length", ["x"]));
    }

    [Fact]
    public async Task Streaming_sends_openai_chunks_ending_in_done_with_the_same_text_as_a_plain_request()
    {
        var plain = (await Json(await Post($$"""{"messages": {{Hello}}, "temperature": 0, "max_tokens": 6}""")))["choices"]![0]!["message"]!["content"]!.GetValue<string>();
        var r = await Post($$"""{"messages": {{Hello}}, "temperature": 0, "max_tokens": 6, "stream": true}""");
        Assert.Equal("text/event-stream", r.Content.Headers.ContentType!.MediaType);
        var events = (await r.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e["data: ".Length..])!).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c["object"]!.GetValue<string>()));
        Assert.Equal(plain, string.Concat(chunks.Select(c => c["choices"]![0]!["delta"]!["content"]?.GetValue<string>() ?? "")));
        Assert.NotNull(chunks[^1]["choices"]![0]!["finish_reason"]);
    }

    [Fact]
    public async Task Ares_endpoint_client_probes_the_server_and_concurrent_clients_share_forwards()
    {
        using var client = new OpenAiChatModel(new EndpointOptions { BaseUrl = _server.Url + "/v1", Model = "tiny-chat", MaxConcurrency = 8 });
        IReadOnlyList<ChatMessage>[] conversations = [[new("user", "one")], [new("user", "two")], [new("user", "three")]];
        var results = await client.CompleteAsync(conversations, new ChatSampling { MaxTokens = 4, Temperature = 1, Seed = 9 }, samples: 2);
        Assert.All(results.SelectMany(r => r), r => Assert.True(r.Ok, r.Error));
        var again = await client.CompleteAsync(conversations, new ChatSampling { MaxTokens = 4, Temperature = 1, Seed = 9 }, samples: 2);
        Assert.Equal(results.SelectMany(r => r).Select(r => r.Text), again.SelectMany(r => r).Select(r => r.Text));
        Assert.Equal(new EndpointCounters(12, 0, 0, 12), client.Counters);

        // Eight unseeded clients at once: batched into fewer model calls than requests.
        var before = _server.Batcher.Calls;
        var replies = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Post($$"""{"messages": [{"role": "user", "content": "client {{i}}"}], "max_tokens": 4}""")));
        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.True(_server.Batcher.Calls - before < 8, $"{_server.Batcher.Calls - before} model calls for 8 concurrent requests");
        Assert.True(_server.Batcher.LargestBatch > 1);
    }

    [Fact]
    public async Task A_request_cancelled_while_queued_is_dropped_and_the_server_keeps_serving()
    {
        Assert.Equal(HttpStatusCode.OK, (await Post($$"""{"messages": {{Hello}}, "max_tokens": 2}""")).StatusCode); // warm: routes compiled
        // A long request keeps the model busy; the next one waits in the queue (or the 150 ms gather window) and is cancelled there.
        var busy = Post($$"""{"messages": {{Hello}}, "n": 4, "max_tokens": 24, "temperature": 1}""");
        await Task.Delay(50);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Post($$"""{"messages": {{Hello}}, "max_tokens": 8}""", cancel.Token));
        Assert.Equal(HttpStatusCode.OK, (await busy).StatusCode);
        for (var waited = 0; _server.Batcher.Dropped == 0 && waited < 3000; waited += 50) await Task.Delay(50);
        Assert.True(_server.Batcher.Dropped == 1, $"dropped {_server.Batcher.Dropped}, model calls {_server.Batcher.Calls}");
        var next = await Post($$"""{"messages": {{Hello}}, "max_tokens": 3}""");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }
}
