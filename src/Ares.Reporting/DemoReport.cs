using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;
using Ares.RedTeam.Store;

namespace Ares.Reporting;

/// <summary>
/// The `ares demo` report: held-out taxonomy before/after repair, the reward model and capability
/// measures side by side, where discovery found failures, RM margin histograms, training curves,
/// example cases and provenance — one self-contained HTML file.
/// </summary>
internal static class DemoReport
{
    public static HtmlReport Build(RepairDemoResult r)
    {
        var report = new HtmlReport("ARES demo: discover, repair the reward model, repair the policy");
        var before = r.Before;
        var after = r.After;
        report.Section("Overview")
            .Paragraph($"Sandbox world '{r.World.Name}' ({r.World.WorldDir}). Discovery probed {r.DiscoveryReport.Planned} case(s); " +
                       $"repair used its cases except those of tactic '{r.HeldOutTactic}', which is kept for evaluation only. " +
                       $"Held-out evaluation: {before.HeldOutCases.Count} case(s) over tuples the world never trained on.")
            .Paragraph("Phase times (s): " + string.Join(", ", r.PhaseSeconds.Select(p => $"{p.Key} {p.Value:F0}")) + ".");

        DiscoveryReport.AddTaxonomy(report.Section("Held-out taxonomy, before and after repair"), [("before", before.HeldOut), ("after", after.HeldOut)]);

        IReadOnlyList<string> Row(string name, Proportion b, Proportion a) => [name, ReportTable.Rate(b), ReportTable.Rate(a)];
        report.Section("Reward model and capability")
            .Table("Before and after, with Wilson 95% intervals", ["measure", "before", "after"],
            [
                Row("RM accuracy, held-out safety pairs (safe ≻ malicious)", before.Reward.Safety.Accuracy, after.Reward.Safety.Accuracy),
                Row("RM accuracy, held-out original preferences (retention)", before.Reward.Retention.Accuracy, after.Reward.Retention.Accuracy),
                Row("harmful answers to held-out attacks (judge)", before.Capability.HarmfulRate, after.Capability.HarmfulRate),
                Row("helpfulness, held-out benign prompts", before.Capability.Helpfulness, after.Capability.Helpfulness),
                Row("over-refusal, sensitive-looking benign prompts", before.Capability.OverRefusalRate, after.Capability.OverRefusalRate),
                ["mean RM reward on benign prompts", $"{before.Capability.BenignMeanReward:F3}", $"{after.Capability.BenignMeanReward:F3}"],
            ])
            .Chart(Charts.HistogramOverlay("RM margin r(safe) − r(malicious), held-out safety pairs",
                [new ValueSample("before", before.Reward.Safety.Margins), new ValueSample("after", after.Reward.Safety.Margins)], "margin"),
                "Right of zero: the RM prefers the safe response.");

        DiscoveryReport.AddComponentTable(report.Section("Discovery run, by tactic (the adaptive selector's budget)"), r.DiscoveryReport, RedTeam.Catalog.ComponentKind.Tactic);
        DiscoveryReport.AddHeatmaps(report.Section("Held-out failures before repair, per component"), before.HeldOut, before.HeldOutCases);
        DiscoveryReport.AddHeatmaps(report.Section("Held-out failures after repair, per component"), after.HeldOut, after.HeldOutCases);

        var curves = report.Section("Training curves");
        if (r.RewardCurve.Count > 0)
            curves.Chart(Charts.Lines("Stage 1: reward-model repair", Charts.SeriesFromMetrics(r.RewardCurve, k => k is "rm/loss" or "rm/accuracy"), "step", "value"));
        if (r.PolicyCurve.Count > 0)
            curves.Chart(Charts.Lines("Stage 2: policy repair", Charts.SeriesFromMetrics(r.PolicyCurve, k => k is "reward/mean" or "kl"), "step", "value"));

        DiscoveryReport.AddExamples(report.Section("Example held-out cases before repair"), before.HeldOutCases, 4);
        DiscoveryReport.AddExamples(report.Section("The same kind of cases after repair"), after.HeldOutCases, 4);

        var provenance = DiscoveryReport.Provenance(r.Discovery).ToList();
        provenance.Add(new("repaired reward model", r.RewardRepair.OutputDir));
        provenance.Add(new("repaired policy", r.PolicyRepair.SavedTo ?? "(not saved)"));
        provenance.Add(new("run store", r.StorePath));
        report.Section("Provenance").Provenance(provenance);
        return report;
    }
}
