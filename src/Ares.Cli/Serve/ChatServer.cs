using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Ares.Core.Tokenization;
using Ares.RedTeam.Chat;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ares.Cli.Serve;

/// <summary>
/// <c>ares serve</c>: a local model behind an OpenAI-compatible HTTP API on ASP.NET Core (Kestrel),
/// so garak, PyRIT, promptfoo, or Ares's own endpoint client can attack it.
/// <list type="bullet">
/// <item><c>GET /v1/models</c>: the one model served;</item>
/// <item><c>POST /v1/chat/completions</c> with <c>messages</c>, <c>n</c>, <c>temperature</c>, <c>top_p</c>,
/// <c>max_tokens</c> (or <c>max_completion_tokens</c>), <c>stop</c>, <c>seed</c> and <c>stream</c>
/// (server-sent events with a delta per generated token, <c>data: [DONE]</c> at the end);</item>
/// <item>errors in OpenAI's shape, <c>{"error": {"message", "type", "param", "code"}}</c>, naming the field.</item>
/// </list>
/// Binds 127.0.0.1 unless told otherwise. Concurrent requests are batched by <see cref="GenerationBatcher"/>.
/// </summary>
internal sealed class ChatServer : IAsyncDisposable
{
    /// <summary>Most samples per request: each is a row of the batched forward.</summary>
    public const int MaxN = 16;

    readonly WebApplication _app;
    readonly LocalChatModel _model;

    ChatServer(WebApplication app, LocalChatModel model, GenerationBatcher batcher, string modelName, string url)
    {
        _app = app;
        _model = model;
        Batcher = batcher;
        ModelName = modelName;
        Url = url;
    }

    public string Url { get; }
    public string ModelName { get; }
    public GenerationBatcher Batcher { get; }

    /// <summary>Starts serving <paramref name="model"/> (owned from here on) on host:port; port 0 = any free port (see <see cref="Url"/>).</summary>
    public static async Task<ChatServer> StartAsync(LocalChatModel model, string modelName, string host = "127.0.0.1", int port = 0,
        TimeSpan? gatherWindow = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}");
        var app = builder.Build();
        var batcher = new GenerationBatcher(model, gatherWindow);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        app.MapGet("/v1/models", () => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject { ["id"] = modelName, ["object"] = "model", ["created"] = created, ["owned_by"] = "ares" }),
        }));
        app.MapPost("/v1/chat/completions", (HttpContext ctx) => CompleteAsync(ctx, batcher, modelName));
        app.MapFallback((HttpContext ctx) => Error(ctx, 404, $"no route {ctx.Request.Method} {ctx.Request.Path} (this server has GET /v1/models and POST /v1/chat/completions)", "invalid_request_error", null, "not_found"));
        await app.StartAsync().ConfigureAwait(false);
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ChatServer(app, model, batcher, modelName, url);
    }

    /// <summary>A request that does not validate: the message names the field.</summary>
    sealed class BadRequest(string param, string message, string code = "invalid_value") : Exception(message)
    {
        public string Param => param;
        public string Code => code;
    }

    static async Task CompleteAsync(HttpContext ctx, GenerationBatcher batcher, string modelName)
    {
        JsonObject body;
        try
        {
            body = await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false) as JsonObject
                ?? throw new BadRequest("", "the request body must be a JSON object");
        }
        catch (JsonException e)
        {
            await Error(ctx, 400, $"the request body is not valid JSON ({e.Message})", "invalid_request_error", null, "invalid_json").ConfigureAwait(false);
            return;
        }
        catch (BadRequest e)
        {
            await Error(ctx, 400, e.Message, "invalid_request_error", null, e.Code).ConfigureAwait(false);
            return;
        }

        Request request;
        try { request = Request.Parse(body); }
        catch (BadRequest e)
        {
            await Error(ctx, 400, e.Message, "invalid_request_error", e.Param, e.Code).ConfigureAwait(false);
            return;
        }
        if (request.Model is { } asked && asked != modelName)
        {
            await Error(ctx, 404, $"The model '{asked}' does not exist (this server serves '{modelName}')", "invalid_request_error", "model", "model_not_found").ConfigureAwait(false);
            return;
        }

        if (request.Stream)
        {
            await StreamAsync(ctx, batcher, request, modelName).ConfigureAwait(false);
            return;
        }
        IReadOnlyList<ChatResult> results;
        try { results = await batcher.SubmitAsync(request.Messages, request.Sampling, request.N, ctx.RequestAborted).ConfigureAwait(false); }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { return; } // the client went away
        if (results.FirstOrDefault(r => !r.Ok) is { } failed)
        {
            await ContextError(ctx, failed).ConfigureAwait(false);
            return;
        }
        var choiceArray = new JsonArray();
        for (var i = 0; i < results.Count; i++)
        {
            var (text, finish) = ApplyStop(results[i].Text!, results[i].FinishReason!, request.Stop);
            choiceArray.Add(new JsonObject
            {
                ["index"] = i,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text },
                ["finish_reason"] = finish,
            });
        }
        await Results.Json(new JsonObject
        {
            ["id"] = NewId(), ["object"] = "chat.completion", ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["model"] = modelName,
            ["choices"] = choiceArray,
        }).ExecuteAsync(ctx).ConfigureAwait(false);
    }

    static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N");

    static Task ContextError(HttpContext ctx, ChatResult failed) =>
        Error(ctx, 400, failed.Error!, "invalid_request_error", "messages", "context_length_exceeded");

    /// <summary>
    /// Server-sent events in OpenAI's chunk shape, as the tokens are generated: a role chunk per
    /// choice, then content deltas (choices interleaved by index, in the order their tokens come),
    /// then per choice a chunk with its finish_reason, then <c>data: [DONE]</c>. A request the
    /// model rejects before generating (too long) gets the plain JSON error, since no event has
    /// been sent yet. A client that goes away mid-stream just ends the handler; its generation
    /// stops at the next token unless other requests share the forward.
    /// </summary>
    static async Task StreamAsync(HttpContext ctx, GenerationBatcher batcher, Request request, string modelName)
    {
        var ct = ctx.RequestAborted;
        var id = NewId();
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var texts = Enumerable.Range(0, request.N).Select(_ => new StreamedText(request.Stop)).ToArray();
        var tokens = Channel.CreateUnbounded<(int Sample, string Text)>(new UnboundedChannelOptions { SingleReader = true });
        var job = batcher.SubmitAsync(request.Messages, request.Sampling, request.N, ct, (j, text) => tokens.Writer.TryWrite((j, text)));
        _ = job.ContinueWith(_ => tokens.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var started = false;
        async Task Send(int index, JsonObject delta, string? finish)
        {
            if (!started)
            {
                started = true;
                ctx.Response.ContentType = "text/event-stream";
                ctx.Response.Headers.CacheControl = "no-cache";
                for (var i = 0; i < request.N; i++) await Send(i, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null).ConfigureAwait(false);
            }
            var chunk = new JsonObject
            {
                ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = created, ["model"] = modelName,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = index, ["delta"] = delta, ["finish_reason"] = finish }),
            };
            await ctx.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", ct).ConfigureAwait(false);
            await ctx.Response.Body.FlushAsync(ct).ConfigureAwait(false);
        }
        try
        {
            await foreach (var (j, text) in tokens.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                if (texts[j].Advance(text) is { Length: > 0 } delta) await Send(j, new JsonObject { ["content"] = delta }, null).ConfigureAwait(false);
            var results = await job.ConfigureAwait(false);
            if (!started && results.FirstOrDefault(r => !r.Ok) is { } failed)
            {
                await ContextError(ctx, failed).ConfigureAwait(false);
                return;
            }
            for (var i = 0; i < results.Count; i++)
            {
                var (text, finish) = results[i].Ok ? ApplyStop(results[i].Text!, results[i].FinishReason!, request.Stop) : ("", "error");
                if (texts[i].Rest(text) is { Length: > 0 } rest) await Send(i, new JsonObject { ["content"] = rest }, null).ConfigureAwait(false);
                await Send(i, new JsonObject(), finish).ConfigureAwait(false);
            }
            await ctx.Response.WriteAsync("data: [DONE]\n\n", ct).ConfigureAwait(false);
        }
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or IOException) { } // the client went away
    }

    /// <summary>
    /// One streamed choice: turns "text so far" snapshots into deltas. A delta never ends in an
    /// incomplete UTF-8 character (U+FFFD while its bytes are still coming) or in what could be the
    /// start of a stop sequence, and nothing after a stop sequence is sent, so the deltas add up
    /// to exactly the text a plain request returns (see <see cref="ApplyStop"/>).
    /// </summary>
    internal sealed class StreamedText(IReadOnlyList<string> stop)
    {
        bool _stopped;

        /// <summary>What has been sent so far.</summary>
        public string Sent { get; private set; } = "";

        /// <summary>The new text to send for the snapshot <paramref name="soFar"/> ("" if none yet).</summary>
        public string Advance(string soFar)
        {
            if (_stopped) return "";
            var text = soFar;
            var cut = stop.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
            if (cut >= 0) { text = text[..cut]; _stopped = true; }
            else
            {
                var end = text.Length;
                while (end > 0 && text[end - 1] == '\uFFFD') end--;
                var held = stop.Select(s => HeldBack(text[..end], s)).DefaultIfEmpty(0).Max();
                text = text[..(end - held)];
            }
            if (text.Length <= Sent.Length || !text.StartsWith(Sent, StringComparison.Ordinal)) return "";
            var delta = text[Sent.Length..];
            Sent = text;
            return delta;
        }

        /// <summary>What is left to send once the final text is known.</summary>
        public string Rest(string final)
        {
            var rest = final.StartsWith(Sent, StringComparison.Ordinal) ? final[Sent.Length..] : "";
            Sent = final;
            return rest;
        }

        /// <summary>The longest suffix of <paramref name="text"/> that is a proper prefix of <paramref name="stopSequence"/>.</summary>
        static int HeldBack(string text, string stopSequence)
        {
            for (var n = Math.Min(text.Length, stopSequence.Length - 1); n > 0; n--)
                if (text.AsSpan(text.Length - n).SequenceEqual(stopSequence.AsSpan(0, n))) return n;
            return 0;
        }
    }

    /// <summary>OpenAI's stop semantics: the text ends before the first stop sequence, which is not returned.</summary>
    internal static (string Text, string Finish) ApplyStop(string text, string finish, IReadOnlyList<string> stop)
    {
        var cut = stop.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        return cut >= 0 ? (text[..cut], "stop") : (text, finish);
    }

    static Task Error(HttpContext ctx, int status, string message, string type, string? param, string code) =>
        Results.Json(new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = param, ["code"] = code },
        }, statusCode: status).ExecuteAsync(ctx);

    /// <summary>A validated chat completion request.</summary>
    sealed record Request(string? Model, IReadOnlyList<ChatMessage> Messages, ChatSampling Sampling, int N, IReadOnlyList<string> Stop, bool Stream)
    {
        static readonly string[] Known = ["model", "messages", "n", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "stream",
            "user", "presence_penalty", "frequency_penalty", "logit_bias", "stream_options"];

        public static Request Parse(JsonObject body)
        {
            foreach (var (key, value) in body)
            {
                if (!Known.Contains(key)) throw new BadRequest(key, $"Unrecognized request argument supplied: {key}", "unknown_parameter");
                // Accepted for compatibility only at their neutral values: anything else would be silently ignored.
                if (key is "presence_penalty" or "frequency_penalty" && value is JsonValue v && v.TryGetValue<double>(out var x) && x != 0)
                    throw new BadRequest(key, $"'{key}' is not supported (only 0)", "unsupported_parameter");
                if (key == "logit_bias" && value is JsonObject { Count: > 0 })
                    throw new BadRequest(key, "'logit_bias' is not supported", "unsupported_parameter");
            }
            if (body["messages"] is not JsonArray { Count: > 0 } list)
                throw new BadRequest("messages", "'messages' must be a non-empty array of {role, content}", "invalid_type");
            var messages = new List<ChatMessage>();
            for (var i = 0; i < list.Count; i++)
            {
                if (list[i] is not JsonObject m || m["role"] is not JsonValue r || !r.TryGetValue<string>(out var role) || role is not ("system" or "user" or "assistant"))
                    throw new BadRequest($"messages[{i}].role", $"messages[{i}].role must be one of system, user, assistant");
                if (m["content"] is not JsonValue c || !c.TryGetValue<string>(out var content))
                    throw new BadRequest($"messages[{i}].content", $"messages[{i}].content must be a string");
                messages.Add(new ChatMessage(role, content));
            }
            var defaults = new ChatSampling();
            var maxTokens = Int(body, "max_completion_tokens", 1, int.MaxValue) ?? Int(body, "max_tokens", 1, int.MaxValue) ?? defaults.MaxTokens;
            var stop = body["stop"] switch
            {
                null => [],
                JsonValue v when v.TryGetValue<string>(out var s) && s.Length > 0 => [s],
                JsonArray a when a.Count <= 4 && a.All(x => x is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0) => a.Select(x => x!.GetValue<string>()).ToArray(),
                _ => throw new BadRequest("stop", "'stop' must be a non-empty string or an array of up to 4 of them"),
            };
            return new Request(
                body["model"] is null ? null : Str(body, "model"),
                messages,
                new ChatSampling
                {
                    MaxTokens = maxTokens,
                    Temperature = Dbl(body, "temperature", 0, 2) ?? defaults.Temperature,
                    TopP = Dbl(body, "top_p", double.Epsilon, 1) ?? defaults.TopP,
                    Seed = body["seed"] switch
                    {
                        null => null,
                        JsonValue v when v.TryGetValue<long>(out var s) => s,
                        _ => throw new BadRequest("seed", "'seed' must be an integer"),
                    },
                },
                Int(body, "n", 1, MaxN) ?? 1,
                stop,
                body["stream"] switch
                {
                    null => false,
                    JsonValue v when v.TryGetValue<bool>(out var b) => b,
                    _ => throw new BadRequest("stream", "'stream' must be true or false"),
                });
        }

        static string Str(JsonObject o, string key) =>
            o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new BadRequest(key, $"'{key}' must be a string");

        static int? Int(JsonObject o, string key, int min, int max) => o[key] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<int>(out var x) && x >= min && x <= max => x,
            _ => throw new BadRequest(key, $"'{key}' must be an integer in [{min}, {max}]"),
        };

        static double? Dbl(JsonObject o, string key, double min, double max) => o[key] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<double>(out var x) && x >= min && x <= max => x,
            _ => throw new BadRequest(key, $"'{key}' must be a number in [{(min == double.Epsilon ? "0 (exclusive)" : min.ToString(CultureInfo.InvariantCulture))}, {max.ToString(CultureInfo.InvariantCulture)}]"),
        };
    }

    /// <summary>Runs until <paramref name="ct"/> is cancelled (Ctrl+C).</summary>
    public async Task WaitAsync(CancellationToken ct)
    {
        try { await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        await Batcher.DisposeAsync().ConfigureAwait(false);
        _model.Dispose();
    }
}
