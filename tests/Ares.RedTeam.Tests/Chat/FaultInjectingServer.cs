using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ares.RedTeam.Chat;

/// <summary>A request as the server saw it.</summary>
internal sealed record RecordedRequest(int Index, string Path, string? Authorization, JsonObject Body, TimeSpan ArrivedAt)
{
    /// <summary>The content of the last message, which tests use to tell conversations apart.</summary>
    public string LastContent => Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>();

    public long? Seed => Body["seed"]?.GetValue<long>();
}

/// <summary>How a reply breaks the connection: not at all, after half the promised body, or before any answer.</summary>
internal enum ConnectionBreak { None, Truncated, Dropped }

/// <summary>What the server does with one request.</summary>
internal sealed record ServerReply(int Status, string Body, IReadOnlyDictionary<string, string>? Headers = null, TimeSpan Hang = default, TimeSpan Work = default,
    ConnectionBreak Break = ConnectionBreak.None)
{
    /// <summary>A chat completion whose message content is <paramref name="content"/>.</summary>
    public static ServerReply Completion(string content, string finishReason = "stop", TimeSpan work = default) => new(200,
        new JsonObject
        {
            ["id"] = "chatcmpl-test",
            ["object"] = "chat.completion",
            ["model"] = "test-model",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content },
                ["finish_reason"] = finishReason,
            }),
        }.ToJsonString(), Work: work);

    public static ServerReply TooManyRequests(string retryAfter) =>
        new(429, """{"error":{"message":"rate limited"}}""", new Dictionary<string, string> { ["Retry-After"] = retryAfter });

    public static ServerReply ServerError() => new(500, """{"error":{"message":"internal error"}}""");

    /// <summary>Holds the request without answering, longer than any client timeout in these tests.</summary>
    public static ServerReply Hanging() => new(200, "{}", Hang: TimeSpan.FromSeconds(5));

    public static ServerReply MalformedJson() => new(200, """{"choices": [{"message": {"content": "cut off""");

    /// <summary>Headers promising <paramref name="body"/>, half of it, then the connection reset.</summary>
    public static ServerReply Truncated(string body) => new(200, body, Break: ConnectionBreak.Truncated);

    /// <summary>The connection reset before any response.</summary>
    public static ServerReply Dropped() => new(200, "", Break: ConnectionBreak.Dropped);

    public static ServerReply Unauthorized(string body = """{"error":"invalid api key"}""") => new(401, body);
}

/// <summary>
/// A local HTTP/1.1 server on 127.0.0.1 (free port) for chat-endpoint tests: a script decides
/// each reply (OK, 429 + Retry-After, 500, hang, malformed JSON, truncated body, dropped connection, 401), and the server records
/// every request and the most requests it ever had in flight at once.
/// </summary>
internal sealed class FaultInjectingServer : IDisposable
{
    readonly HttpListener _listener = new();
    readonly Func<RecordedRequest, ServerReply> _script;
    readonly CancellationTokenSource _stop = new();
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly ConcurrentQueue<Task> _handlers = new();
    int _index, _inFlight, _maxInFlight;

    public FaultInjectingServer(Func<RecordedRequest, ServerReply> script)
    {
        _script = script;
        // A port picked by the OS can be taken again before HttpListener binds it; try a few.
        for (var tries = 0; ; tries++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                _listener.Start();
                BaseUrl = $"http://127.0.0.1:{port}";
                break;
            }
            catch (HttpListenerException) when (tries < 5) { }
        }
        _ = Task.Run(AcceptLoop);
    }

    public string BaseUrl { get; private set; } = "";

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (HttpListenerException) { continue; }
            _handlers.Enqueue(Task.Run(() => Handle(context)));
        }
    }

    async Task Handle(HttpListenerContext context)
    {
        var now = Interlocked.Increment(ref _inFlight);
        for (var max = Volatile.Read(ref _maxInFlight); now > max; max = Volatile.Read(ref _maxInFlight))
            if (Interlocked.CompareExchange(ref _maxInFlight, now, max) == max) break;
        try
        {
            string text;
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8)) text = await reader.ReadToEndAsync();
            var request = new RecordedRequest(Interlocked.Increment(ref _index) - 1, context.Request.Url!.AbsolutePath,
                context.Request.Headers["Authorization"], JsonNode.Parse(text)!.AsObject(), _clock.Elapsed);
            Requests.Enqueue(request);
            var reply = _script(request);
            if (reply.Hang > TimeSpan.Zero)
            {
                // The client gives up and drops the connection; whatever we write after that is lost.
                try { await Task.Delay(reply.Hang, _stop.Token); } catch (OperationCanceledException) { }
            }
            if (reply.Work > TimeSpan.Zero) await Task.Delay(reply.Work);
            if (reply.Break == ConnectionBreak.Dropped)
            {
                context.Response.Abort();
                return;
            }
            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "application/json";
            foreach (var (k, v) in reply.Headers ?? new Dictionary<string, string>()) context.Response.Headers[k] = v;
            var bytes = Encoding.UTF8.GetBytes(reply.Body);
            context.Response.ContentLength64 = bytes.Length;
            if (reply.Break == ConnectionBreak.Truncated)
            {
                await context.Response.OutputStream.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
                await context.Response.OutputStream.FlushAsync();
                context.Response.Abort();
                return;
            }
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away (timeout) or the server is stopping.
        }
        catch (JsonException)
        {
            context.Response.StatusCode = 400;
            context.Response.Close();
        }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    /// <summary>The requests in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Ordered() => Requests.OrderBy(r => r.Index).ToArray();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        // Not waiting for the accept loop: the managed listener takes ~1 s to fault a pending
        // GetContextAsync after Stop, and the loop ends on its own (the stop token is set).
        try { Task.WaitAll(_handlers.ToArray(), TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _listener.Close();
    }
}
