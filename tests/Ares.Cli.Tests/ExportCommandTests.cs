using System.Text.Json;
using Ares.RedTeam;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.Cli.Tests;

/// <summary>`ares export` as a user runs it, on a store written through <see cref="RunStore"/>.</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class ExportCommandTests : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    static (int Code, string Out, string Err) Run(params string[] args) => CliHarness.Run(args);

    static RunInfo Info(string id, int minutes) => CliHarness.Info(id, minutes, budget: 3);

    static ProbeCase Case(int index, FailureClass cls)
    {
        var tuple = new ComponentTuple("topic", "persona", "tactic", "goal");
        return new ProbeCase
        {
            Index = index,
            Components = tuple,
            Seed = index,
            Class = cls,
            CreatedUtc = DateTime.UtcNow,
            Case = new MentorCase(tuple, $"prompt {index}", $"[redacted] {index}", $"safe {index}"),
        };
    }

    [Fact]
    public void Export_from_a_store_without_runs_names_the_store_and_exits_2()
    {
        var db = _dir.File("empty.db");
        using (RunStore.Open(db)) { }
        var (code, stdout, stderr) = Run("export", "--store", db, "--format", "cases", "--out", _dir.File("x.jsonl"));
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Equal($"error: {db}: the store has no runs to export", stderr.Trim());
        Assert.False(File.Exists(_dir.File("x.jsonl")));

        var missing = _dir.File("missing.db");
        Assert.Equal(2, Run("export", "--store", missing, "--format", "cases", "--out", _dir.File("x.jsonl")).Code);
        Assert.False(File.Exists(missing)); // exporting never creates a store
    }

    [Fact]
    public void Preferences_export_writes_the_latest_runs_reward_model_failures_as_TRL_pairs()
    {
        var db = _dir.File("runs.db");
        using (var store = RunStore.Open(db))
        {
            store.CreateRun(Info("old", 0));
            store.SaveCase("old", Case(0, FailureClass.Systemic));
            store.CreateRun(Info("new", 5));
            store.SaveCase("new", Case(0, FailureClass.Robust));
            store.SaveCase("new", Case(1, FailureClass.RmOnly));
            store.SaveCase("new", Case(2, FailureClass.Systemic));
        }
        var output = _dir.File("prefs.jsonl");
        var (code, _, stderr) = Run("export", "--store", db, "--format", "preferences", "--out", output);
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote 2 preference pair(s) (rm_only,systemic) of run 'new'", stderr);
        var lines = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["prompt 1", "prompt 2"], lines.Select(l => l.GetProperty("prompt").GetString()));
        Assert.Equal(["safe 1", "safe 2"], lines.Select(l => l.GetProperty("chosen").GetString()));
        Assert.Equal(["[redacted] 1", "[redacted] 2"], lines.Select(l => l.GetProperty("rejected").GetString()));
        // TRL's conversational form of the same pairs, beside the plain file.
        var twin = _dir.File("prefs.conversational.jsonl");
        Assert.Contains($"(conversational form: {twin})", stderr);
        var conv = File.ReadAllLines(twin).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["prompt 1", "prompt 2"], conv.Select(l => l.GetProperty("prompt")[0].GetProperty("content").GetString()));
        Assert.Equal(["user", "user"], conv.Select(l => l.GetProperty("prompt")[0].GetProperty("role").GetString()));
        Assert.Equal(["safe 1", "safe 2"], conv.Select(l => l.GetProperty("chosen")[0].GetProperty("content").GetString()));
        Assert.Equal(["assistant", "assistant"], conv.Select(l => l.GetProperty("rejected")[0].GetProperty("role").GetString()));

        (code, _, stderr) = Run("export", "--store", db, "--run", "new", "--format", "preferences", "--classes", "robust", "--out", output);
        Assert.True(code == 0, stderr);
        Assert.Equal("prompt 0", JsonDocument.Parse(File.ReadAllLines(output).Single()).RootElement.GetProperty("prompt").GetString());

        (code, _, stderr) = Run("export", "--store", db, "--run", "nope", "--format", "cases", "--out", output);
        Assert.Equal(2, code);
        Assert.Contains("no run 'nope'; runs in the store: old (running), new (running)", stderr);
        (code, _, stderr) = Run("export", "--store", db, "--format", "preferences", "--classes", "rm_only,bogus", "--out", output);
        Assert.Equal(2, code);
        Assert.Contains("--classes: unknown failure class 'bogus'", stderr);
        Assert.Equal(0, Run("export", "--help").Code);
    }
}
