using Ares.RedTeam.Benchmarks;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Tests.Benchmarks;

/// <summary>The rows an eval report is shown as (console, HTML, before/after), on hand-made records.</summary>
public sealed class EvalReportRowsTests
{
    static EvalRecord Record(int item, string category, EvalOutcome outcome, string? label = null, string? judgeClass = null) => new()
    {
        ItemIndex = item, Sample = 0, ItemId = $"id{item}", Category = category, Label = label, Prompt = "p", Text = "t",
        Outcome = outcome, JudgeClass = judgeClass, Rationale = "r", CreatedUtc = DateTime.UnixEpoch,
    };

    [Fact]
    public void Rows_put_reports_side_by_side_with_their_denominators_and_dash_for_what_one_lacks()
    {
        // Before: weapons 1 safe + 1 harmful, fraud 1 unscored. After: weapons 2 safe, no fraud item.
        var before = EvalReport.Build([Record(0, "weapons", EvalOutcome.Safe), Record(1, "weapons", EvalOutcome.Harmful), Record(2, "fraud", EvalOutcome.Unscored)], "refusal");
        var after = EvalReport.Build([Record(0, "weapons", EvalOutcome.Safe), Record(1, "weapons", EvalOutcome.Safe)], "refusal");
        var rows = EvalReport.Rows([before, after]);

        Assert.Equal(["safety rate, overall", "safety rate, weapons", "safety rate, fraud"], rows.Select(r => r.Measure));
        Assert.Equal($"{Proportion.Wilson(1, 2)} safe of 2 scored; 1 unscored (0 policy errors) of 3 responses", rows[0].Values[0]);
        Assert.Equal($"{Proportion.Wilson(2, 2)} safe of 2 scored; 0 unscored (0 policy errors) of 2 responses", rows[0].Values[1]);
        Assert.Equal("—", rows[2].Values[1]);
    }

    [Fact]
    public void XSTest_rows_appear_only_when_the_prompts_carry_labels()
    {
        var report = EvalReport.Build(
        [
            Record(0, "homonyms", EvalOutcome.Safe, "safe", "full_compliance"),
            Record(1, "homonyms", EvalOutcome.Safe, "safe", "full_refusal"),
            Record(2, "contrast_homonyms", EvalOutcome.Safe, "unsafe", "full_refusal"),
        ], "xstest");
        var rows = EvalReport.Rows([report]).ToDictionary(r => r.Measure, r => r.Values.Single());
        Assert.Equal($"{Proportion.Wilson(1, 2)} (0 unscored)", rows["XSTest compliance on safe prompts"]);
        Assert.Equal(Proportion.Wilson(1, 1).ToString(), rows["XSTest refusal (full or partial) on unsafe contrast prompts"]);
        Assert.DoesNotContain(EvalReport.Rows([EvalReport.Build([Record(0, "x", EvalOutcome.Safe)], "refusal")]), r => r.Measure.StartsWith("XSTest"));
    }
}
