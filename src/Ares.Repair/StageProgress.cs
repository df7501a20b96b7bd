using System.Globalization;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Repair;

/// <summary>
/// Where a multi-stage job (demo, repair rounds) is: the stage, its progress, and a one-line status
/// with the stage's latest numbers (discovery's class counts, a trainer's loss/reward/KL), for a
/// progress bar to show as it goes.
/// </summary>
internal sealed record StageProgress(string Stage, int Done, int Total, string Status = "")
{
    /// <summary>The training metrics worth watching, in this order, when a step reports them.</summary>
    static readonly string[] Watched = ["loss", "rm/loss", "accuracy", "rm/accuracy", "margin", "rm/margin", "reward/mean", "kl"];

    public static StageProgress Training(string stage, int step, int total, IReadOnlyDictionary<string, double> metrics) =>
        new(stage, step + 1, total, string.Join(" · ", Watched.Where(metrics.ContainsKey)
            .Select(k => $"{k} {metrics[k].ToString("0.###", CultureInfo.InvariantCulture)}")));

    public static StageProgress Discovery(string stage, ProbeProgress p) =>
        new(stage, p.Completed, p.Budget, $"systemic {p.Counts[FailureClass.Systemic]} · policy-only {p.Counts[FailureClass.PolicyOnly]} · RM-only {p.Counts[FailureClass.RmOnly]}");
}
