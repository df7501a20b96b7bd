using System.Globalization;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.Reporting;

/// <summary>
/// The discovery report of one probe run: overview, taxonomy (table + chart), per-tactic rates,
/// failure heatmaps, example failing cases, training curves when the run has metrics, and
/// provenance. Every rate carries its Wilson interval and counts.
/// </summary>
internal static class DiscoveryReport
{
    /// <summary>The failure classes, in the order the report lists them.</summary>
    static readonly FailureClass[] Classes = [FailureClass.Systemic, FailureClass.PolicyOnly, FailureClass.RmOnly, FailureClass.Robust, FailureClass.Unscored];

    public static HtmlReport Build(RunInfo? run, IReadOnlyList<ProbeCase> cases, IReadOnlyList<MetricPoint>? metrics = null, int examples = 6)
    {
        var taxonomy = TaxonomyReport.Build(cases);
        var report = new HtmlReport(run is null ? "ARES discovery report" : $"ARES discovery report: run {run.RunId}");

        var failures = cases.Count(c => c.Class is FailureClass k && Taxonomy.IsFailure(k));
        report.Section("Overview")
            .Paragraph($"{taxonomy.Planned} case(s) planned; {taxonomy.Planned - taxonomy.MentorFailures} composed by the mentor, " +
                       $"{taxonomy.MentorFailures} mentor failure(s). {taxonomy.Responses} policy response(s), " +
                       $"{taxonomy.TargetErrors} target error(s), {taxonomy.UnscoreableVerdicts} unscoreable verdict(s).")
            .Paragraph($"Failure rate (policy-only, RM-only or systemic): " +
                       ReportTable.Rate(Proportion.Wilson(failures, taxonomy.Overall.Cases)) +
                       ". Rates are over all composed cases, unscored included, with Wilson 95% intervals.");

        AddTaxonomy(report.Section("Failure taxonomy"), [("this run", taxonomy)]);
        AddComponentTable(report.Section("By tactic"), taxonomy, ComponentKind.Tactic);
        AddHeatmaps(report.Section("Where failures concentrate"), taxonomy, cases);
        AddExamples(report.Section("Example failing cases"), cases, examples);
        if (metrics is { Count: > 0 })
            report.Section("Training curves").Chart(Charts.Lines("Metrics by step", Charts.SeriesFromMetrics(metrics), "step", "value"));
        if (run is not null) report.Section("Provenance").Provenance(Provenance(run));
        return report;
    }

    /// <summary>The taxonomy table and grouped bar chart for one or several runs (e.g. before/after repair), one column/series each.</summary>
    public static void AddTaxonomy(ReportSection section, IReadOnlyList<(string Label, TaxonomyReport Report)> runs)
    {
        var headers = new List<string> { "class" };
        headers.AddRange(runs.Select(r => $"{r.Label} (n={r.Report.Overall.Cases})"));
        var rows = Classes.Select(c => (IReadOnlyList<string>)[c.SnakeName(), .. runs.Select(r => ReportTable.Rate(r.Report.Overall[c]))]).ToList();
        section.Table("Rate of each class among composed cases", headers, rows);
        var series = runs.Select(r => new BarSeries(r.Label,
            [.. Classes.Select(c => Pct(r.Report.Overall[c].Rate))],
            [.. Classes.Select(c => (Pct(r.Report.Overall[c].Low), Pct(r.Report.Overall[c].High)))])).ToList();
        section.Chart(Charts.GroupedBars("Failure taxonomy", [.. Classes.Select(c => c.SnakeName())], series, "% of cases", yMax: 100),
            "Bars: rate; whiskers: Wilson 95% interval.");
    }

    /// <summary>One row per component value of <paramref name="kind"/>: cases and the rate of each class.</summary>
    public static void AddComponentTable(ReportSection section, TaxonomyReport taxonomy, ComponentKind kind)
    {
        var headers = new List<string> { kind.ToString().ToLowerInvariant(), "cases" };
        headers.AddRange(Classes.Select(c => c.SnakeName()));
        var rows = taxonomy.ByComponent.Where(e => e.Key.Kind == kind).OrderBy(e => e.Key.Id, StringComparer.Ordinal)
            .Select(e => (IReadOnlyList<string>)[e.Key.Id, e.Value.Cases.ToString(CultureInfo.InvariantCulture), .. Classes.Select(c => ReportTable.Rate(e.Value[c]))])
            .ToList();
        section.Table($"Class rates per {kind.ToString().ToLowerInvariant()}", headers, rows);
    }

    internal static void AddHeatmaps(ReportSection section, TaxonomyReport taxonomy, IReadOnlyList<ProbeCase> cases)
    {
        FailureClass[] failing = [FailureClass.Systemic, FailureClass.PolicyOnly, FailureClass.RmOnly];
        var keys = taxonomy.ByComponent.Keys.OrderBy(k => Array.IndexOf(ComponentCatalog.Kinds, k.Kind)).ThenBy(k => k.Id, StringComparer.Ordinal).ToList();
        if (keys.Count == 0)
        {
            section.Paragraph("No composed cases: nothing to break down.");
            return;
        }
        var values = new double[keys.Count, failing.Length];
        for (int r = 0; r < keys.Count; r++)
            for (int c = 0; c < failing.Length; c++)
                values[r, c] = Pct(taxonomy.ByComponent[keys[r]][failing[c]].Rate);
        section.Chart(Charts.Heatmap("Failure rate per component value and class",
            [.. keys.Select(k => $"{k.Kind.ToString().ToLowerInvariant()}: {k.Id} (n={taxonomy.ByComponent[k].Cases})")],
            [.. failing.Select(c => c.SnakeName())], values, "% of cases"));

        var composed = cases.Where(c => c.Class is not null).ToList();
        var tactics = composed.Select(c => c.Components.Tactic).Distinct().Order(StringComparer.Ordinal).ToList();
        var topics = composed.Select(c => c.Components.Topic).Distinct().Order(StringComparer.Ordinal).ToList();
        var grid = new double[tactics.Count, topics.Count];
        for (int r = 0; r < tactics.Count; r++)
            for (int c = 0; c < topics.Count; c++)
            {
                var cell = composed.Where(x => x.Components.Tactic == tactics[r] && x.Components.Topic == topics[c]).ToList();
                grid[r, c] = cell.Count == 0 ? double.NaN : Pct((double)cell.Count(x => Taxonomy.IsFailure(x.Class!.Value)) / cell.Count);
            }
        section.Chart(Charts.Heatmap("Failure rate per tactic × topic", tactics, topics, grid, "% failing"),
            "Any failure class (policy-only, RM-only, systemic); blank cells were not probed.");
    }

    internal static void AddExamples(ReportSection section, IReadOnlyList<ProbeCase> cases, int count)
    {
        // Round-robin over the failure classes (systemic first) so every kind of failure is shown.
        var picked = cases.Where(c => c.Case is not null && c.Class is FailureClass k && Taxonomy.IsFailure(k))
            .GroupBy(c => c.Class!.Value).OrderBy(g => Array.IndexOf(Classes, g.Key))
            .SelectMany(g => g.OrderBy(c => c.Index).Select((c, rank) => (c, rank)))
            .OrderBy(x => x.rank).Select(x => x.c).Take(count).ToList();
        if (picked.Count == 0)
        {
            section.Paragraph("No failing cases.");
            return;
        }
        foreach (var c in picked)
        {
            var fields = new List<KeyValuePair<string, string>>
            {
                new("components", c.Components.ToString()),
                new("prompt", c.Case!.Prompt),
                new("reward: malicious − safe", Signed(c.RewardMalicious - c.RewardSafe)),
            };
            // The response that made the case fail: the most harmful one, its reward beside it.
            var worst = c.Responses.Where(r => r.HarmProbability is not null).OrderByDescending(r => r.HarmProbability).FirstOrDefault();
            if (worst is not null)
            {
                fields.Add(new($"response {worst.Sample} (harm p={worst.HarmProbability:0.00}, reward − safe: {Signed(worst.Reward - c.RewardSafe)})", worst.Text ?? ""));
                if (worst.JudgeRationale is { Length: > 0 } why) fields.Add(new("judge", why));
            }
            section.Example($"case {c.Index}: {c.Class!.Value.SnakeName()}", fields);
        }
    }

    /// <summary>The run's provenance as key/value pairs: ids, versions, model identities, seed, config.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Provenance(RunInfo run) =>
    [
        new("run", run.RunId),
        new("status", run.Status),
        new("created (UTC)", run.CreatedUtc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)),
        new("ares version", run.AresVersion),
        new("catalog version", run.CatalogVersion),
        new("seed", run.Seed.ToString(CultureInfo.InvariantCulture)),
        new("budget", run.Budget.ToString(CultureInfo.InvariantCulture)),
        new("policy", run.Policy.ToString()),
        new("reward model", run.RewardModel.ToString()),
        new("judge", run.Judge.ToString()),
        new("mentor", run.Mentor.ToString()),
        new("config", run.ConfigJson),
    ];

    static double Pct(double rate) => double.IsNaN(rate) ? double.NaN : 100 * rate;

    static string Signed(double? v) => v is double x ? x.ToString("+0.000;−0.000;0.000", CultureInfo.InvariantCulture) : "n/a";
}
