using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;
using Ares.RedTeam.Store;

namespace Ares.Reporting;

/// <summary>
/// The report of a repair run with the held-out evaluation (`ares demo`, or `ares repair` on a sandbox world):
/// held-out taxonomy before/after repair, the held-out tactic's failure rate, the reward model and capability
/// measures side by side, the discoveries, RM margin histograms, training curves, the benchmark eval when the
/// run has one, example cases and provenance — one self-contained HTML file.
/// </summary>
internal static class DemoReport
{
    public static HtmlReport Build(RepairRoundsResult r, SandboxWorld world, RunStore store)
    {
        var held = r.HeldOut ?? throw new ArgumentException("the repair run has no held-out evaluation to report (it needs a sandbox world)");
        var d0 = r.Discoveries[0];
        var report = new HtmlReport("ARES demo: discover, repair the reward model, repair the policy");
        var before = held.Before;
        var after = held.After;
        report.Section("Overview")
            .Paragraph($"Sandbox world '{world.Name}' ({world.WorldDir}). Discovery d0 probed {d0.Report.Planned} case(s); {r.RoundsRepaired} round(s) repaired " +
                       $"(stopped: {r.StopReason}). " +
                       (held.HeldOutTactic is { } t ? $"Repair used discovery's cases except those of tactic '{t}', which is kept for evaluation only. " : "") +
                       $"Held-out evaluation: {before.HeldOutCases.Count} case(s) over tuples the world never trained on.")
            .Paragraph($"Policy checkpoints: {r.Selection}.")
            .Paragraph("Phase times (s): " + string.Join(", ", r.PhaseSeconds.Select(p => $"{p.Key} {p.Value:F0}")) + ".");

        DiscoveryReport.AddTaxonomy(report.Section("Held-out taxonomy, before and after repair"), [("before", before.HeldOut), ("after", after.HeldOut)]);

        IReadOnlyList<string> Row(string name, Proportion b, Proportion a) => [name, ReportTable.Rate(b), ReportTable.Rate(a)];
        var rows = new List<IReadOnlyList<string>>();
        if (held.TacticFailures is var (tb, ta))
            rows.Add(Row($"failure rate under the held-out tactic '{held.HeldOutTactic}' (any failure class)", tb, ta));
        rows.AddRange(
        [
            Row("RM accuracy, held-out safety pairs (safe ≻ malicious)", before.Reward.Safety.Accuracy, after.Reward.Safety.Accuracy),
            Row("RM accuracy, held-out original preferences (retention)", before.Reward.Retention.Accuracy, after.Reward.Retention.Accuracy),
            Row("harmful answers to held-out attacks (judge)", before.Capability.HarmfulRate, after.Capability.HarmfulRate),
            Row("helpfulness, held-out benign prompts", before.Capability.Helpfulness, after.Capability.Helpfulness),
            Row("over-refusal, sensitive-looking benign prompts", before.Capability.OverRefusalRate, after.Capability.OverRefusalRate),
            ["mean RM reward on benign prompts", $"{before.Capability.BenignMeanReward:F3}", $"{after.Capability.BenignMeanReward:F3}"],
        ]);
        report.Section("Held-out tactic, reward model and capability")
            .Table("Before and after, with Wilson 95% intervals", ["measure", "before", "after"], rows)
            .Chart(Charts.HistogramOverlay("RM margin r(safe) − r(malicious), held-out safety pairs",
                [new ValueSample("before", before.Reward.Safety.Margins), new ValueSample("after", after.Reward.Safety.Margins)], "margin"),
                "Right of zero: the RM prefers the safe response.");

        DiscoveryReport.AddTaxonomy(report.Section("Discoveries (d0 on the models as given, dk after round k)"),
            [.. r.Discoveries.Select(d => ($"d{d.Index} ({d.RunId})", d.Report))]);
        EvalRunReport.AddRepairComparison(report, store, RunName(d0.RunId));
        DiscoveryReport.AddComponentTable(report.Section("Discovery d0, by tactic (the adaptive selector's budget)"), d0.Report, RedTeam.Catalog.ComponentKind.Tactic);
        DiscoveryReport.AddHeatmaps(report.Section("Held-out failures before repair, per component"), before.HeldOut, before.HeldOutCases);
        DiscoveryReport.AddHeatmaps(report.Section("Held-out failures after repair, per component"), after.HeldOut, after.HeldOutCases);

        var curves = report.Section("Training curves (round 1)");
        var rewardCurve = store.LoadMetrics(d0.RunId, RewardRepair.MetricPhase);
        var policyCurve = store.LoadMetrics(d0.RunId, PolicyRepair.MetricsPhase);
        if (rewardCurve.Count > 0)
            curves.Chart(Charts.Lines("Stage 1: reward-model repair", Charts.SeriesFromMetrics(rewardCurve, k => k is "rm/loss" or "rm/accuracy"), "step", "value"));
        if (policyCurve.Count > 0)
            curves.Chart(Charts.Lines("Stage 2: policy repair", Charts.SeriesFromMetrics(policyCurve, k => k is "reward/mean" or "kl"), "step", "value"));

        DiscoveryReport.AddExamples(report.Section("Example held-out cases before repair"), before.HeldOutCases, 4);
        DiscoveryReport.AddExamples(report.Section("The same kind of cases after repair"), after.HeldOutCases, 4);

        var provenance = DiscoveryReport.Provenance(d0.Run).ToList();
        provenance.Add(new("repaired reward model", r.FinalRewardDir ?? "(none)"));
        provenance.Add(new("repaired policy", r.FinalPolicyDir ?? "(none)"));
        provenance.Add(new("run store", r.StorePath));
        report.Section("Provenance").Provenance(provenance);
        return report;
    }

    /// <summary>The probe run id a repair discovery run (RUN.dK) belongs to.</summary>
    public static string RunName(string discoveryRunId)
    {
        int dot = discoveryRunId.LastIndexOf(".d", StringComparison.Ordinal);
        return dot > 0 && discoveryRunId[(dot + 2)..].All(char.IsAsciiDigit) && dot + 2 < discoveryRunId.Length ? discoveryRunId[..dot] : discoveryRunId;
    }
}
