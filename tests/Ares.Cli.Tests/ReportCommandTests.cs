using Ares.RedTeam.Benchmarks;
using Ares.RedTeam;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.Cli.Tests;

/// <summary>`ares report` as a user runs it, on a store written through <see cref="RunStore"/>.</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class ReportCommandTests : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    static (int Code, string Out, string Err) Run(params string[] args) => CliHarness.Run(args);

    static RunInfo Info(string id, int minutes) => CliHarness.Info(id, minutes, budget: 4, configJson: "{\"budget\": 4}");

    static ProbeCase Case(int index, string tactic, FailureClass cls)
    {
        var tuple = new ComponentTuple(index % 2 == 0 ? "weapons" : "fraud", "persona", tactic, "goal");
        return new ProbeCase
        {
            Index = index,
            Components = tuple,
            Seed = index,
            Class = cls,
            CreatedUtc = DateTime.UtcNow,
            Case = new MentorCase(tuple, $"prompt {index}", $"[redacted] {index}", $"safe {index}"),
            Responses = [new ProbeResponse(0, $"response {index}", "stop", null, cls is FailureClass.Systemic ? 0.9 : 0.1, null, 0.4)],
            RewardMalicious = 0.1,
            RewardSafe = 0.2,
        };
    }

    [Fact]
    public void Report_renders_the_latest_run_with_its_cases_charts_and_metrics()
    {
        var db = _dir.File("runs.db");
        using (var store = RunStore.Open(db))
        {
            store.CreateRun(Info("old", 0));
            store.SaveCase("old", Case(0, "roleplay", FailureClass.Robust));
            store.CreateRun(Info("new", 5));
            store.SaveCase("new", Case(0, "roleplay", FailureClass.Systemic));
            store.SaveCase("new", Case(1, "roleplay", FailureClass.Robust));
            store.SaveCase("new", Case(2, "direct", FailureClass.RmOnly));
            store.SaveCase("new", Case(3, "direct", FailureClass.Robust));
            store.AppendMetrics("new", "probe", 1, new Dictionary<string, double> { ["failure_rate"] = 0.5 });
            store.AppendMetrics("new", "probe", 2, new Dictionary<string, double> { ["failure_rate"] = 0.25 });
        }
        var path = _dir.File("report.html");
        var (code, stdout, stderr) = Run("report", "--store", db, "--out", path);
        Assert.True(code == 0, stderr);
        Assert.Empty(stdout);
        Assert.Equal($"wrote the report of run 'new' (4 case(s)) to {path}", stderr.Trim());
        var html = File.ReadAllText(path);
        Assert.Contains("ARES discovery report: run new", html);
        Assert.Contains("<td>systemic</td><td>25.0 % [4.6 %, 69.9 %] (1/4)</td>", html);
        Assert.Contains("case 0: systemic", html);
        Assert.Contains("Training curves", html);
        Assert.Equal(4, html.Split("<svg").Length - 1);
        Assert.DoesNotContain("<script", html);
    }

    [Fact]
    public void Report_of_an_unknown_run_lists_the_runs_and_exits_2()
    {
        var db = _dir.File("runs.db");
        using (var store = RunStore.Open(db)) store.CreateRun(Info("only", 0));
        var (code, _, stderr) = Run("report", "--store", db, "--run", "nope", "--out", _dir.File("r.html"));
        Assert.Equal(2, code);
        Assert.Equal($"error: {db}: no run 'nope'; runs in the store: only (running)", stderr.Trim());
        Assert.False(File.Exists(_dir.File("r.html")));
    }

    [Fact]
    public void Report_of_an_attack_run_renders_the_attack_evaluation_of_its_run_name()
    {
        File.WriteAllText(_dir.File("seeds.jsonl"), "{\"prompt\": \"seed\"}\n");
        var c = AttackConfig.Parse("""{ "out": "run", "sandbox": "default" }""", _dir.File("attack.json"));
        var id = ModelIdentity.BuiltIn("policy", "1");
        var result = new AttackEvaluationResult
        {
            Source = new AttackSource("gfn", ModelIdentity.BuiltIn("attacker", "1")), Judge = id, Embedder = id, Seed = 1, ResponsesPerPrompt = 2, Prompts = 10, EmptyPrompts = 0,
            Diversity = new DiversityReport(10, 0.4, 0.5, 0.6, 0.7),
            Targets = [new TargetAttackResult("target", id, Proportion.Wilson(3, 10), 0.35, 0, 20, 1)],
            SampleSeconds = 1, EmbedSeconds = 1, Utc = DateTime.UtcNow,
        };
        using (var store = RunStore.Open(c.StorePath)) AttackRuns.RecordEvaluation(store, c, result, id, _dir.File("seeds.jsonl"));
        var path = _dir.File("attack.html");
        var (code, _, stderr) = Run("report", "--store", c.StorePath, "--out", path);
        Assert.True(code == 0, stderr);
        Assert.Equal($"wrote the attack report of runs 'attack.*' to {path}", stderr.Trim());
        var html = File.ReadAllText(path);
        Assert.Contains("ARES attack evaluation", html);
        Assert.Contains($"<td>gfn</td><td>target</td><td>{Proportion.Wilson(3, 10)}</td>", html);
    }

    /// <summary>A store written by the schema-2 release (attack runs in the discovery columns) is migrated on open and its attack run still renders.</summary>
    [Fact]
    public void Report_of_an_attack_run_in_a_schema_2_store_renders_after_the_migration()
    {
        string db = _dir.File("old.db");
        Ares.RedTeam.Tests.Store.SchemaTwoStore.Write(db);
        var path = _dir.File("old.html");
        var (code, _, stderr) = Run("report", "--store", db, "--run", "demo.sft.1", "--out", path);
        Assert.True(code == 0, stderr);
        Assert.Equal($"wrote the attack report of runs 'demo.*' to {path}", stderr.Trim());
        var html = File.ReadAllText(path);
        Assert.Contains($"<td>gfn</td><td>sandbox:small</td><td>{new Proportion(1, 10, 0.017875, 0.404155)}</td>", html);
        var (probe, _, probeErr) = Run("report", "--store", db, "--run", "probe-1", "--out", _dir.File("probe.html"));   // discovery runs render as before
        Assert.True(probe == 0, probeErr);
    }

    static EvalRecord EvalRow(int item, string category, EvalOutcome outcome) => new()
    {
        ItemIndex = item, Sample = 0, ItemId = $"id{item}", Category = category, Prompt = $"prompt {item}", Text = $"answer {item}",
        Outcome = outcome, Rationale = "judged", CreatedUtc = DateTime.UtcNow,
    };

    [Fact]
    public void Report_renders_an_eval_run_with_its_safety_rates_and_denominators()
    {
        var db = _dir.File("runs.db");
        using (var store = RunStore.Open(db))
        {
            store.CreateRun(CliHarness.Info("ev", 0, budget: 3, configJson: "{\"judge\": \"refusal\"}"));
            store.SaveEvalBatch("ev", [EvalRow(0, "weapons", EvalOutcome.Safe), EvalRow(1, "weapons", EvalOutcome.Harmful), EvalRow(2, "fraud", EvalOutcome.Unscored)]);
        }
        var path = _dir.File("eval.html");
        var (code, _, stderr) = Run("report", "--store", db, "--run", "ev", "--out", path);
        Assert.True(code == 0, stderr);
        Assert.Equal($"wrote the eval report of run 'ev' (3 response(s)) to {path}", stderr.Trim());
        var html = File.ReadAllText(path);
        Assert.Contains("safety rate, overall", html);
        Assert.Contains("safe of 2 scored; 1 unscored (0 policy errors) of 3 responses", html);
        Assert.Contains("safety rate, fraud", html);
        Assert.Contains("answer 1", html); // the harmful response is shown
    }

    [Fact]
    public void Report_of_a_repair_discovery_shows_the_benchmark_eval_before_and_after_repair()
    {
        var db = _dir.File("runs.db");
        using (var store = RunStore.Open(db))
        {
            store.CreateRun(Info("rr.d0", 0));
            store.SaveCase("rr.d0", Case(0, "roleplay", FailureClass.Systemic));
            store.CreateRun(CliHarness.Info("rr.eval-before", 1, budget: 2, configJson: "{\"judge\": \"refusal\", \"policy\": \"sandbox:default\"}"));
            store.SaveEvalBatch("rr.eval-before", [EvalRow(0, "weapons", EvalOutcome.Harmful), EvalRow(1, "weapons", EvalOutcome.Harmful)]);
            store.CreateRun(CliHarness.Info("rr.eval-after", 2, budget: 2, configJson: "{\"judge\": \"refusal\", \"policy\": \"/out/round-1/policy\"}"));
            store.SaveEvalBatch("rr.eval-after", [EvalRow(0, "weapons", EvalOutcome.Safe), EvalRow(1, "weapons", EvalOutcome.Harmful)]);
        }
        var path = _dir.File("repair.html");
        var (code, _, stderr) = Run("report", "--store", db, "--run", "rr.d0", "--out", path);
        Assert.True(code == 0, stderr);
        var html = File.ReadAllText(path);
        Assert.Contains("Benchmark eval before and after repair", html);
        Assert.Contains("before (rr.eval-before)", html);
        Assert.Contains(System.Net.WebUtility.HtmlEncode($"{Proportion.Wilson(1, 2)} safe of 2 scored"), html);
        Assert.Contains(System.Net.WebUtility.HtmlEncode($"{Proportion.Wilson(0, 2)} safe of 2 scored"), html);
    }
}
