using System.CommandLine;
using Ares.Cli.Serve;
using Ares.Models.Loading;
using Ares.RedTeam.Chat;

namespace Ares.Cli.Commands;

/// <summary>`ares serve`: a local model as an OpenAI-compatible endpoint, for external red-team tools and for Ares's own probes.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "HF directory or .gguf file to serve", Required = true, HelpName = "PATH" };
        var port = new Option<int>("--port", "-p") { Description = "TCP port (0 = any free port; the address is printed)", DefaultValueFactory = _ => 8000 };
        var host = new Option<string>("--host") { Description = "Address to bind; the default serves this machine only", DefaultValueFactory = _ => "127.0.0.1" };
        var name = new Option<string?>("--name") { Description = "Model id clients send and /v1/models lists (default: the file or directory name)", HelpName = "ID" };
        var chatFormat = new Option<string?>("--chat-format") { Description = "Chat layout when the model has no chat template (e.g. chatml)", HelpName = "NAME" };
        var batch = new Option<int>("--max-batch") { Description = "Most rows in one generation forward", DefaultValueFactory = _ => 16 };
        var cmd = new Command("serve", "Serve a local model as an OpenAI-compatible endpoint (/v1/models, /v1/chat/completions with streaming)")
        { model, port, host, name, chatFormat, batch };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var path = r.GetValue(model)!;
            if (r.GetValue(port) is < 0 or > 65535) throw new ArgumentException($"--port must be in [0, 65535] (got {r.GetValue(port)})");
            var id = r.GetValue(name) ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
            var chat = LocalChatModel.Load(path, new LoadOptions { ChatFormat = r.GetValue(chatFormat) }, r.GetValue(batch));
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
            var server = ChatServer.StartAsync(chat, id, r.GetValue(host)!, r.GetValue(port)).GetAwaiter().GetResult();
            Console.Error.WriteLine($"serving '{id}' ({chat.Identity}) on {server.Url}/v1 — Ctrl+C stops");
            server.WaitAsync(stop.Token).GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 0;
        }));
        return cmd;
    }
}
