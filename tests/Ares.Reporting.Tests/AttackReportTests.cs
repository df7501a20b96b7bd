using Ares.RedTeam;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.Reporting;

public class AttackReportTests
{
    static AttackEvaluationResult Method(string name, int successes, double cosine)
    {
        var attacker = ModelIdentity.BuiltIn($"attacker-{name}", "1");
        var target = ModelIdentity.BuiltIn("policy", "1");
        var judge = ModelIdentity.BuiltIn("judge", "1");
        var utc = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var rows = Enumerable.Range(0, 20).Select(i => new AttackResultRow($"{name} prompt {i} <b>[redacted]</b>", "target", i < successes ? 0.9 : 0.1, i < successes, 0,
            [i < successes ? 0.9 : 0.1], name, attacker, target, judge, 1, utc)).ToList();
        return new AttackEvaluationResult
        {
            Source = new AttackSource(name, attacker), Judge = judge, Embedder = judge, Seed = 1, ResponsesPerPrompt = 1, Prompts = 20, EmptyPrompts = 0,
            Diversity = new DiversityReport(20, cosine, 0.5, 0.7, 0.8),
            Targets = [new TargetAttackResult("target", target, Proportion.Wilson(successes, 20), rows.Average(r => r.MeanHarm), 0, 20, 1)],
            SampleSeconds = 1, EmbedSeconds = 1, Utc = utc, Rows = rows,
        };
    }

    static AttackEvalReport Sample() => new(
        [Method("sft", 2, 0.62), Method("fewshot", 3, 0.47), Method("gfn", 8, 0.41), Method("smoothed", 9, 0.44), Method("reinforce", 12, 0.93)],
        ["target"], ModelIdentity.BuiltIn("judge", "1"), "/tmp/eval", 10);

    [Fact]
    public void The_table_has_a_row_per_method_and_target_and_the_scatter_a_point_per_method()
    {
        var report = AttackReport.Build(Sample(), "attack.json");
        var table = report.Sections.SelectMany(s => s.Blocks).OfType<ReportTable>().Single();
        Assert.Equal(5, table.Rows.Count);
        Assert.Equal(["gfn", "target", Proportion.Wilson(8, 20).ToString(), "0.420", "0.410", "0.500", "0.700", "0"], table.Rows[2]);
        var html = report.Render();
        Assert.Contains("Attack success vs diversity", html);
        Assert.DoesNotContain("<b>[redacted]</b>", html);                                   // prompts are encoded, not markup
        foreach (var m in new[] { "sft", "fewshot", "gfn", "smoothed", "reinforce" }) Assert.Contains($">{m}<", html);   // legend labels
    }

    [Fact]
    public void The_attack_report_renders_in_headless_chromium() => BrowserTests.AssertRendersInChromium(AttackReport.Build(Sample(), "attack.json"));

    /// <summary>
    /// Evaluations and a training stream written to a run store (as `ares attack eval` and `train` do)
    /// read back into the same table, plus the training curves; earlier evaluations of a method are superseded.
    /// </summary>
    [Fact]
    public void The_report_from_a_run_store_matches_the_report_from_the_results()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("seeds.jsonl"), "{\"prompt\": \"seed\"}\n");
        var c = AttackConfig.Parse("""{ "out": "run", "sandbox": "default", "run": "demo" }""", dir.File("attack.json"));
        Assert.Equal(dir.File(Path.Combine("run", "runs.db")), c.StorePath);
        var sample = Sample();
        using var store = RunStore.Open(c.StorePath);
        AttackRuns.RecordEvaluation(store, c, Method("gfn", 1, 0.9), sample.Methods[0].Targets[0].Identity, dir.File("seeds.jsonl"));   // superseded below
        foreach (var m in sample.Methods) AttackRuns.RecordEvaluation(store, c, m, m.Targets[0].Identity, dir.File("seeds.jsonl"));
        var who = new AttackProvenance(ModelIdentity.BuiltIn("policy", "1"), ModelIdentity.BuiltIn("judge", "1"), ModelIdentity.BuiltIn("sft", "1"), dir.File("seeds.jsonl"));
        string gfn = AttackRuns.Begin(store, c, "gfn", who, 3);
        for (int step = 0; step < 3; step++)
            store.AppendMetrics(gfn, "gfn", step, new Dictionary<string, double> { ["tb/loss"] = 3 - step, ["tb/log_z"] = step, ["reward/mean"] = -step, ["buffer/size"] = 8 * step });
        Assert.Equal("demo.gfn.1", gfn);
        Assert.Equal(("demo", "gfn", RunStore.AttackKind), (store.GetAttackRun(gfn)!.RunName, store.GetAttackRun(gfn)!.Stage, store.ListRunHeaders().Single(h => h.RunId == gfn).Kind));
        Assert.Equal(["demo.eval-gfn.1", "demo.eval-gfn.2"], AttackRuns.Runs(store, "demo", "eval-gfn").Select(r => r.RunId));

        var fromStore = AttackReport.FromStore(store, "demo");
        var direct = AttackReport.Build(sample, "attack.json");
        static IReadOnlyList<IReadOnlyList<string>> Rows(HtmlReport r) => r.Sections.SelectMany(s => s.Blocks).OfType<ReportTable>().Single().Rows;
        Assert.Equal(Rows(direct), Rows(fromStore));
        var html = fromStore.Render();
        Assert.Contains("Training curves (run store)", html);
        Assert.Contains("gfn training", html);
        Assert.Contains("Sampled prompts", html);                                           // per-prompt rows are in the store
        var stored = AttackRuns.LoadReport(store, "demo")!.Methods.Single(m => m.Source.Method == "gfn");
        static IEnumerable<object> Flat(IEnumerable<AttackResultRow> rows) =>
            rows.Select(r => (object)(r.Prompt, r.Target, r.MeanHarm, r.Success, r.Unscoreable, string.Join(",", r.Harm), r.Method, r.Attacker, r.TargetModel, r.Judge, r.Seed, r.Utc));
        Assert.Equal(Flat(sample.Methods[2].Rows), Flat(stored.Rows));
        Assert.Throws<ArgumentException>(() => AttackReport.FromStore(store, "other"));
    }
}
