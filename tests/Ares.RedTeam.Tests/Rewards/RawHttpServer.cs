using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ares.RedTeam.Tests.Rewards;

/// <summary>
/// A loopback server that writes raw bytes, for faults HttpListener cannot produce: a body cut
/// short of its Content-Length, a connection closed before any response. One request per
/// connection; <c>script(index)</c> returns the bytes to write (null = close at once).
/// </summary>
internal sealed class RawHttpServer : IDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly Func<int, string, byte[]?> _script;
    readonly CancellationTokenSource _stop = new();
    int _index;

    public RawHttpServer(Func<int, string, byte[]?> script)
    {
        _script = script;
        _listener.Start();
        BaseUrl = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _ = Task.Run(AcceptLoop);
    }

    public string BaseUrl { get; }
    public int Requests => Volatile.Read(ref _index);

    /// <summary>A complete HTTP/1.1 response.</summary>
    public static byte[] Response(int status, string body, string? extraHeader = null) =>
        Encoding.UTF8.GetBytes($"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n{(extraHeader is null ? "" : extraHeader + "\r\n")}\r\n{body}");

    /// <summary>Headers promising the whole body, then only its first half before the connection closes.</summary>
    public static byte[] Truncated(string body) =>
        [.. Encoding.UTF8.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n"), .. Encoding.UTF8.GetBytes(body[..(body.Length / 2)])];

    async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Handle(client));
        }
    }

    async Task Handle(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var request = await ReadRequest(stream);
                var bytes = _script(Interlocked.Increment(ref _index) - 1, request);
                if (bytes is not null) await stream.WriteAsync(bytes);
                client.Client.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
        }
    }

    /// <summary>Reads headers and a Content-Length body; returns the body.</summary>
    static async Task<string> ReadRequest(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        int headerEnd = -1, length = 0;
        while (true)
        {
            int n = await stream.ReadAsync(chunk);
            if (n == 0) break;
            buffer.AddRange(chunk.AsSpan(0, n).ToArray());
            if (headerEnd < 0)
            {
                var text = Encoding.ASCII.GetString(buffer.ToArray());
                headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (headerEnd >= 0)
                {
                    foreach (var line in text[..headerEnd].Split("\r\n"))
                        if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(line["Content-Length:".Length..].Trim());
                    headerEnd += 4;
                }
            }
            if (headerEnd >= 0 && buffer.Count - headerEnd >= length) break;
        }
        return headerEnd < 0 ? "" : Encoding.UTF8.GetString(buffer.ToArray(), headerEnd, buffer.Count - headerEnd);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
