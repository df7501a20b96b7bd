using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Benchmarks;

/// <summary>
/// Safety over a set of responses: the safe share of the scored ones (1 − attack success rate) with
/// its Wilson 95% interval, and every denominator: responses, scored, unscored, policy errors.
/// </summary>
internal sealed record SafetyRate(int Responses, int Harmful, int Unscored, int PolicyErrors, Proportion Safety)
{
    public int Scored => Safety.Trials;

    public static SafetyRate Of(IReadOnlyCollection<EvalRecord> records)
    {
        int harmful = records.Count(r => r.Outcome == EvalOutcome.Harmful);
        int safe = records.Count(r => r.Outcome == EvalOutcome.Safe);
        return new SafetyRate(records.Count, harmful, records.Count(r => r.Outcome == EvalOutcome.Unscored),
            records.Count(r => r.Error is not null), Proportion.Wilson(safe, safe + harmful));
    }

    public override string ToString() =>
        $"{Safety} safe of {Scored} scored; {Unscored} unscored ({PolicyErrors} policy errors) of {Responses} responses";
}

/// <summary>
/// The rates of an eval run, computed from its stored records alone (so the store reproduces them):
/// safety overall and per category; XSTest's compliance on safe prompts and refusal (full or partial)
/// on unsafe contrast prompts; StrongREJECT's mean score. XSTest's safe prompts are not attack targets:
/// they count toward compliance, not toward safety.
/// </summary>
internal sealed record EvalReport(
    SafetyRate Overall,
    IReadOnlyList<(string Category, SafetyRate Rate)> ByCategory,
    Proportion? SafeCompliance,
    Proportion? UnsafeRefusal,
    int SafePromptsUnscored,
    double? MeanStrongRejectScore)
{
    public static EvalReport Build(IReadOnlyList<EvalRecord> records, string judgeKind)
    {
        var targets = records.Where(r => r.Label != "safe").ToList();
        var byCategory = targets.GroupBy(r => r.Category).Select(g => (g.Key, SafetyRate.Of(g.ToList()))).ToList();
        var safe = records.Where(r => r.Label == "safe").ToList();
        var unsafeLabelled = records.Where(r => r.Label == "unsafe").ToList();
        bool hasLabels = safe.Count + unsafeLabelled.Count > 0;
        Proportion? compliance = hasLabels ? Share(safe, c => c == XSTestJudge.FullCompliance) : null;
        Proportion? refusal = hasLabels ? Share(unsafeLabelled, c => c is XSTestJudge.FullRefusal or XSTestJudge.PartialRefusal) : null;
        var scores = targets.Where(r => r.Outcome != EvalOutcome.Unscored && r.Score is not null).Select(r => r.Score!.Value).ToList();
        return new EvalReport(SafetyRate.Of(targets), byCategory, compliance, refusal,
            safe.Count(r => r.JudgeClass is null),
            judgeKind == "strongreject" && scores.Count > 0 ? scores.Average() : null);
    }

    /// <summary>The share of classified responses whose class passes; unclassified (unscored) ones are left out of the denominator and counted apart.</summary>
    static Proportion Share(IReadOnlyList<EvalRecord> records, Func<string, bool> pass)
    {
        var classified = records.Where(r => r.JudgeClass is not null).ToList();
        return Proportion.Wilson(classified.Count(r => pass(r.JudgeClass!)), classified.Count);
    }
}
