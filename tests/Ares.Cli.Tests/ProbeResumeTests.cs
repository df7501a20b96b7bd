using System.Diagnostics;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Store;
using Ares.RedTeam.Tests;

namespace Ares.Cli.Tests;

/// <summary>
/// `ares probe` killed with SIGKILL mid-run, twice, then resumed: the store ends with every case
/// exactly once. The policy is a slow fake OpenAI-compatible endpoint so the kills land mid-run.
/// </summary>
public sealed class ProbeResumeTests : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    const int Budget = 48;

    [Fact]
    public void A_probe_killed_twice_resumes_with_no_missing_and_no_duplicate_cases()
    {
        using var server = new FaultInjectingServer(r => r.Index % 13 == 5
            ? ServerReply.ServerError()
            : ServerReply.Completion(r.LastContent.Contains("DAN") ? "Sure. Step 1: [redacted]." : "I can't help with that.", work: TimeSpan.FromMilliseconds(120)));
        var rm = TinyHfDirectory.Write(_dir.File("rm"), "qwen3", labels: 1);
        var config = _dir.File("kill-test.json");
        File.WriteAllText(config, $$"""
            {
              "store": "runs.db", "seed": 5,
              "policy": { "endpoint": "{{server.BaseUrl}}", "model": "fake", "concurrency": 4, "max_retries": 2 },
              "reward_model": "{{rm}}",
              "judge": "refusal",
              "budget": { "cases": {{Budget}}, "samples": 2, "batch": 4 },
              "sampling": { "max_tokens": 16 }
            }
            """);
        var db = _dir.File("runs.db");

        var first = RunAndKill(config, resume: false, db, killAt: 8);
        var second = RunAndKill(config, resume: true, db, killAt: first + 8);
        Assert.InRange(first, 8, Budget - 1);
        Assert.InRange(second, first + 1, Budget - 1);

        var (code, output) = RunToEnd(config);
        Assert.True(code == 0, output);
        Assert.Contains("systemic", output);

        using var store = RunStore.Open(db, create: false);
        var cases = store.LoadCases("kill-test");
        Assert.Equal(Enumerable.Range(0, Budget), cases.Select(c => c.Index));
        Assert.All(cases, c => Assert.Equal([0, 1], c.Responses.Select(r => r.Sample)));
        Assert.Equal("complete", store.GetRun("kill-test")!.Status);
        Assert.Contains(cases.SelectMany(c => c.Responses), r => r.Error is null && r.HarmProbability == 1.0);
    }

    static Process Start(string config, bool resume, System.Text.StringBuilder? sink = null)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "ares.dll"), "probe", "--config", config }) psi.ArgumentList.Add(a);
        if (resume) psi.ArgumentList.Add("--resume");
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { lock (p) sink?.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (p) sink?.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>Starts the CLI, SIGKILLs it once the store holds <paramref name="killAt"/> cases; returns the count after the kill.</summary>
    static int RunAndKill(string config, bool resume, string db, int killAt)
    {
        using var p = Start(config, resume);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (Completed(db) < killAt)
        {
            Assert.False(p.HasExited, $"ares probe exited early with code {(p.HasExited ? p.ExitCode : 0)}");
            Assert.True(DateTime.UtcNow < deadline, "the probe made no progress in 90 s");
            Thread.Sleep(25);
        }
        p.Kill(); // SIGKILL on Linux: no finally blocks, no flush
        p.WaitForExit();
        return Completed(db);
    }

    static (int Code, string Output) RunToEnd(string config)
    {
        var output = new System.Text.StringBuilder();
        using var p = Start(config, resume: true, output);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(120)), "the resumed probe did not finish in 120 s");
        p.WaitForExit(); // drains the redirected streams
        lock (p) return (p.ExitCode, output.ToString());
    }

    static int Completed(string db)
    {
        if (!File.Exists(db)) return 0;
        try
        {
            using var store = RunStore.Open(db, create: false);
            return store.GetRun("kill-test") is null ? 0 : store.CompletedIndices("kill-test").Count;
        }
        catch (RunStoreException) { return 0; } // schema not written yet
    }
}
