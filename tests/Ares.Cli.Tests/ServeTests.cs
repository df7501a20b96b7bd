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
        var path = TinyHfDirectory.Write(_dir.File("tiny-chat"), "qwen3", maxPositions: 2048);
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
        await BadRequest($$"""{"messages": [{"role": "user", "content": "{{string.Join(" ", Enumerable.Repeat("word", 3000))}}"}]}""", 400, "messages", "context_length_exceeded");
    }

    [Fact]
    public void Stop_sequences_cut_the_text_before_the_first_match()
    {
        Assert.Equal(("Hello ", "stop"), ChatServer.ApplyStop("Hello world. Bye", "length", ["wor", "Bye"]));
        Assert.Equal(("Hello", "length"), ChatServer.ApplyStop("Hello", "length", ["x"]));
    }

    /// <summary>The data of each server-sent event up to <c>[DONE]</c>, which must be the last.</summary>
    static List<JsonNode> Chunks(string stream)
    {
        var events = stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e["data: ".Length..])!).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c["object"]!.GetValue<string>()));
        Assert.All(chunks, c => Assert.Single(c["choices"]!.AsArray()));
        return chunks;
    }

    static int Index(JsonNode chunk) => chunk["choices"]![0]!["index"]!.GetValue<int>();
    static string? Content(JsonNode chunk) => chunk["choices"]![0]!["delta"]!["content"]?.GetValue<string>();
    static string? Finish(JsonNode chunk) => chunk["choices"]![0]!["finish_reason"]?.GetValue<string>();

    [Fact]
    public async Task Streaming_sends_a_delta_per_token_interleaving_choices_and_adding_up_to_the_plain_answer()
    {
        var plain = (await Json(await Post($$"""{"messages": {{Hello}}, "temperature": 0, "max_tokens": 12, "seed": 1}""")))["choices"]![0]!["message"]!["content"]!.GetValue<string>();
        var r = await Post($$"""{"messages": {{Hello}}, "temperature": 0, "max_tokens": 12, "seed": 1, "n": 2, "stream": true}""");
        Assert.Equal("text/event-stream", r.Content.Headers.ContentType!.MediaType);
        var chunks = Chunks(await r.Content.ReadAsStringAsync());
        Assert.All(chunks.Where(c => c["choices"]![0]!["delta"]!["role"] is not null), c => Assert.Equal("", Content(c)));
        for (var i = 0; i < 2; i++)
        {
            var mine = chunks.Where(c => Index(c) == i).ToList();
            Assert.Equal("assistant", mine[0]["choices"]![0]!["delta"]!["role"]!.GetValue<string>()); // first: the role
            Assert.Null(Finish(mine[0]));
            Assert.Contains(Finish(mine[^1]), (string[])["stop", "length"]);                    // last: why it ended
            Assert.All(mine[..^1], c => Assert.Null(Finish(c)));
            var deltas = mine.Select(Content).Where(t => !string.IsNullOrEmpty(t)).ToList();
            Assert.True(deltas.Count >= 3, $"choice {i}: {deltas.Count} content chunks for \"{plain}\"");
            Assert.Equal(plain, string.Concat(deltas)); // greedy: both choices are the plain answer
        }
        // The two choices' deltas come interleaved as their tokens are generated, not one choice after the other.
        var order = chunks.Where(c => !string.IsNullOrEmpty(Content(c))).Select(Index).ToList();
        Assert.True(order.IndexOf(1) < order.LastIndexOf(0), string.Join(",", order));
    }

    [Fact]
    public void A_streamed_delta_never_ends_inside_a_character_or_a_possible_stop_sequence()
    {
        var t = new ChatServer.StreamedText(["END"]);
        Assert.Equal("Hel", t.Advance("Hel"));
        Assert.Equal("", t.Advance("Hel\uFFFD"));      // half a character: wait for its other bytes
        Assert.Equal("lo é", t.Advance("Hello é"));
        Assert.Equal(" ", t.Advance("Hello é EN"));     // "EN" may become "END"
        Assert.Equal("ENx", t.Advance("Hello é ENx"));
        Assert.Equal(" ", t.Advance("Hello é ENx END and more"));
        Assert.Equal("", t.Advance("Hello é ENx END and more still")); // nothing after a stop sequence
        Assert.Equal("", t.Rest("Hello é ENx "));
        var u = new ChatServer.StreamedText([]);
        Assert.Equal("ab", u.Advance("ab"));
        Assert.Equal("c", u.Rest("abc"));               // the final text flushes what was held back
    }

    [Fact]
    public async Task A_client_that_hangs_up_mid_stream_stops_its_generation_and_the_server_keeps_serving()
    {
        var before = _server.Batcher.Aborted;
        using (var cancel = new CancellationTokenSource())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _server.Url + "/v1/chat/completions")
            {
                Content = new StringContent($$"""{"messages": {{Hello}}, "n": 4, "temperature": 1, "seed": 3, "max_tokens": 2000, "stream": true}""", Encoding.UTF8, "application/json"),
            };
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            var contentChunks = 0;
            while (contentChunks < 2 && await reader.ReadLineAsync(cancel.Token) is { } line)
                if (line.StartsWith("data: {", StringComparison.Ordinal) && Content(JsonNode.Parse(line["data: ".Length..])!) is { Length: > 0 }) contentChunks++;
            Assert.Equal(2, contentChunks);
            cancel.Cancel(); // hang up after two deltas of a 4 × 2000-token answer (long enough to outlast the hang-up on a fast machine)
        }
        for (var waited = 0; _server.Batcher.Aborted == before && waited < 5000; waited += 50) await Task.Delay(50);
        Assert.Equal(before + 1, _server.Batcher.Aborted);
        var next = await Post($$"""{"messages": {{Hello}}, "max_tokens": 3, "stream": true}""");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Contains(Chunks(await next.Content.ReadAsStringAsync()), c => Finish(c) is not null);
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
