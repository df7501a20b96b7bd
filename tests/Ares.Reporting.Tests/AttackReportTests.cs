using Ares.RedTeam;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Probe;

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
}
