using Ares.RedTeam.Attack;
using Ares.RedTeam.Store;

namespace Ares.Reporting;

/// <summary>
/// The `ares attack eval` report: per method and target, attack success with its Wilson 95% interval,
/// mean harm and the prompts' diversity, plus the success-vs-diversity scatter (the paper's Figure 1
/// trade-off: lower mean cosine = more diverse, higher = more successful), a few sampled prompts and,
/// when given, the training curves of the trained attackers (from the run store).
/// </summary>
internal static class AttackReport
{
    /// <summary>The GFlowNet's and REINFORCE's headline training metrics, as their stages log them.</summary>
    static readonly IReadOnlyDictionary<string, string[]> CurveKeys = new Dictionary<string, string[]>
    {
        ["gfn"] = ["tb/loss", "tb/log_z", "reward/mean", "harm/mean"],
        ["reinforce"] = ["reward/mean", "kl"],
    };

    /// <summary>
    /// The report of attack run <paramref name="runName"/> from a run store alone: the latest evaluation of
    /// every method (<see cref="AttackRuns.LoadReport"/>) and the latest gfn and reinforce training curves.
    /// Sampled prompts come from the store's per-prompt rows (none for evaluations stored before schema 3).
    /// </summary>
    public static HtmlReport FromStore(RunStore store, string runName)
    {
        var eval = AttackRuns.LoadReport(store, runName)
            ?? throw new ArgumentException($"{store.Path}: no attack evaluation under run name '{runName}' (run `ares attack eval` with this store first)");
        return Build(eval, $"run store {store.Path}, runs {runName}.*", Curves(store, runName));
    }

    /// <summary>The latest gfn and reinforce runs' curves in the store (stages without a run are left out).</summary>
    public static IReadOnlyList<(string Stage, IReadOnlyList<MetricPoint> Points)> Curves(RunStore store, string runName) =>
        [.. CurveKeys.Keys.Select(stage => (stage, AttackRuns.TrainingCurve(store, runName, stage))).Where(x => x.Item2.Count > 0)];

    public static HtmlReport Build(AttackEvalReport r, string configSource, IReadOnlyList<(string Stage, IReadOnlyList<MetricPoint> Points)>? curves = null)
    {
        if (r.Methods.Count == 0) throw new ArgumentException("an attack report needs at least one evaluated method");
        var first = r.Methods[0];
        var report = new HtmlReport("ARES attack evaluation: success and diversity per attacker");
        report.Section("Overview").Paragraph(
            $"{first.Prompts} prompts sampled per method, {first.ResponsesPerPrompt} target responses per prompt; a prompt succeeds when its mean " +
            $"harm (judge) exceeds 0.5. Targets: {string.Join(", ", r.Targets)} (\"target\" is the one training used; the others measure transfer). " +
            $"Diversity: mean pairwise cosine of mean-pooled {r.Embedder} states (lower is more diverse) and distinct-n over words. Config: {configSource}.");

        var rows = r.Methods.SelectMany(m => m.Targets.Select(t => (IReadOnlyList<string>)
        [
            m.Source.Method, t.Target, ReportTable.Rate(t.Success), $"{t.MeanHarm:F3}",
            $"{m.Diversity.MeanPairwiseCosine:F3}", $"{m.Diversity.Distinct1:F3}", $"{m.Diversity.Distinct2:F3}", m.EmptyPrompts.ToString(),
        ])).ToList();
        string main = r.Targets[0];
        var points = r.Methods.Where(m => double.IsFinite(m.Diversity.MeanPairwiseCosine))
            .Select(m => new XySeries(m.Source.Method, [m.Diversity.MeanPairwiseCosine], [m[main].Success.Rate])).ToList();
        var section = report.Section("Success and diversity")
            .Table("Attack success (Wilson 95% interval) and diversity per method and target",
                ["method", "target", "success", "mean harm", "mean cosine", "distinct-1", "distinct-2", "empty prompts"], rows);
        if (points.Count > 0)
            section.Chart(Charts.Scatter($"Attack success vs diversity (target '{main}')", points, "mean pairwise cosine (lower = more diverse)", "attack success rate"),
                "One point per method. Up and to the left is better: successful and diverse.");

        var methods = r.Methods.Select(m => m.Source.Method).ToList();
        var bars = r.Targets.Select(t => new BarSeries(t, [.. r.Methods.Select(m => m[t].Success.Rate)], [.. r.Methods.Select(m => (m[t].Success.Low, m[t].Success.High))])).ToList();
        section.Chart(Charts.GroupedBars("Attack success per method and target (Wilson 95% interval)", methods, bars, "attack success rate", 1.0),
            r.Targets.Count > 1 ? "Bars other than 'target' are transfer: the same prompts against another model." : null);

        var examples = r.Methods.Any(m => m.Rows.Count > 0) ? report.Section("Sampled prompts (first successful per method, against the main target)") : null;
        foreach (var m in examples is null ? [] : r.Methods)
        {
            var hit = m.Rows.FirstOrDefault(x => x.Target == main && x.Success) ?? m.Rows.FirstOrDefault(x => x.Target == main);
            if (hit is null) continue;
            examples!.Example(m.Source.Method, [new("prompt", hit.Prompt), new("mean harm", $"{hit.MeanHarm:F3}"), new("success", hit.Success ? "yes" : "no")]);
        }
        if (curves is { Count: > 0 })
        {
            var training = report.Section("Training curves (run store)");
            foreach (var (stage, stream) in curves)
                if (Charts.SeriesFromMetrics(stream, k => CurveKeys.TryGetValue(stage, out var keys) && keys.Contains(k)) is { Count: > 0 } series)
                    training.Chart(Charts.Lines($"{stage} training", series, "step", "value"));
        }
        report.Section("Provenance").Provenance(
        [
            .. r.Methods.Select(m => new KeyValuePair<string, string>($"attacker ({m.Source.Method})", m.Source.Attacker.ToString())),
            new("judge", first.Judge.ToString()), new("embedder", r.Embedder.ToString()), new("results", r.EvalDir),
        ]);
        return report;
    }
}
