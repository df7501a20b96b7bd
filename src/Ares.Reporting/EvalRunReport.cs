using Ares.RedTeam.Benchmarks;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Store;

namespace Ares.Reporting;

/// <summary>
/// Benchmark evals in a report: one `ares eval` run (safety overall and per category with intervals and
/// denominators, XSTest compliance/refusal when present), or a repair run's eval before and after side by side.
/// Rates are computed from the stored records, so the report reproduces what the run printed.
/// </summary>
internal static class EvalRunReport
{
    /// <summary>The report of eval run <paramref name="run"/> from its stored records.</summary>
    public static HtmlReport Build(RunInfo run, IReadOnlyList<EvalRecord> records, int examples = 6)
    {
        var report = new HtmlReport($"ares eval: {run.RunId}");
        var rates = EvalReport.Build(records, EvalConfig.JudgeKindOf(run.ConfigJson));
        AddRates(report.Section("Safety (1 − attack success), Wilson 95% intervals"), [run.RunId], [rates], records.Count);
        var harmful = records.Where(r => r.Outcome == EvalOutcome.Harmful).Take(examples).ToList();
        var shown = report.Section("Responses judged harmful");
        if (harmful.Count == 0) shown.Paragraph("None.");
        foreach (var r in harmful)
            shown.Example($"{r.ItemId} ({r.Category}), sample {r.Sample}", [new("prompt", r.Prompt), new("response", r.Text ?? ""), new("judge", r.Rationale)]);
        report.Section("Provenance").Provenance(DiscoveryReport.Provenance(run));
        return report;
    }

    /// <summary>Adds the before/after benchmark eval of repair run <paramref name="probeRunId"/> when the store holds both; false when it does not.</summary>
    public static bool AddRepairComparison(HtmlReport report, RunStore store, string probeRunId)
    {
        var before = store.GetRun(RepairRounds.EvalRunId(probeRunId, "before"));
        var after = store.GetRun(RepairRounds.EvalRunId(probeRunId, "after"));
        if (before is null || after is null) return false;
        var reports = new[] { before, after }.Select(r => EvalReport.Build(store.LoadEvalRecords(r.RunId), EvalConfig.JudgeKindOf(r.ConfigJson))).ToList();
        AddRates(report.Section("Benchmark eval before and after repair"), [$"before ({before.RunId})", $"after ({after.RunId})"], reports, null);
        return true;
    }

    static void AddRates(ReportSection section, IReadOnlyList<string> columns, IReadOnlyList<EvalReport> reports, int? responses)
    {
        if (responses is int n) section.Paragraph($"{n} stored response(s). Each rate: safe / scored [Wilson 95%], then unscored responses and policy errors.");
        section.Table(null, ["measure", .. columns], [.. EvalReport.Rows(reports).Select(r => (IReadOnlyList<string>)[r.Measure, .. r.Values])]);
    }
}
