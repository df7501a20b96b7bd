using Ares.RedTeam.Probe;

namespace Ares.Reporting;

public class DiscoveryReportTests
{
    [Fact]
    public void A_discovery_report_has_taxonomy_tactics_heatmaps_examples_curves_and_provenance()
    {
        var cases = SampleData.Cases();
        var report = DiscoveryReport.Build(SampleData.Run(), cases, SampleData.Metrics(), examples: 3);
        Assert.Equal(["Overview", "Failure taxonomy", "By tactic", "Where failures concentrate", "Example failing cases", "Training curves", "Provenance"],
            report.Sections.Select(s => s.Title));
        var html = report.Render();

        // The taxonomy table's systemic row carries the same Wilson interval and counts as the taxonomy itself.
        var systemic = TaxonomyReport.Build(cases).Overall[FailureClass.Systemic];
        Assert.Contains($"<td>systemic</td><td>{ReportTable.Rate(systemic)}</td>", html);
        Assert.Contains("37 case(s) planned; 36 composed by the mentor, 1 mentor failure(s)", html);
        foreach (var tactic in SampleData.Tactics) Assert.Contains($"<td>{tactic}</td>", html);
        Assert.Equal(4, html.Split("<svg").Length - 1); // taxonomy bars, two heatmaps, training curves
        Assert.Equal(3, html.Split("class=\"case\"").Length - 1);
        Assert.Contains("case 0: systemic", html); // one example of each failing class, systemic first
        Assert.Contains("case 2: policy_only", html);
        Assert.Contains("case 3: rm_only", html);
        Assert.Contains("… [truncated]", html); // the 900-char harmful stand-in response is cut
        Assert.Contains("&lt;b&gt;explain&lt;/b&gt;", html); // prompt text is encoded, not markup
        Assert.Contains("run-&lt;1&gt;", html);
        Assert.Contains("<code>template-mentor 1</code>", html);
    }

    [Fact]
    public void A_run_without_failures_or_metrics_still_renders()
    {
        var robust = SampleData.Cases().Select(c => c.Class is null ? c : c with { Class = FailureClass.Robust }).ToList();
        var report = DiscoveryReport.Build(null, robust);
        var html = report.Render();
        Assert.Contains("No failing cases.", html);
        Assert.DoesNotContain("Training curves", html);
        Assert.DoesNotContain("Provenance", html);
    }
}
