using Ares.RedTeam.Benchmarks;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Tests.Store;

/// <summary>The eval_responses table: exact round trips, one save per item and sample, the response-or-error invariant.</summary>
public sealed class EvalStoreTests : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    static RunInfo Run(string id) => new()
    {
        RunId = id,
        ConfigJson = "{}",
        Seed = 1,
        AresVersion = "t",
        Policy = ModelIdentity.BuiltIn("p", "1"),
        RewardModel = ModelIdentity.BuiltIn("none", "0"),
        Judge = ModelIdentity.BuiltIn("j", "1"),
        Mentor = ModelIdentity.BuiltIn("none", "0"),
        CatalogVersion = "xstest sha256:0",
        Budget = 2,
        CreatedUtc = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc),
    };

    static EvalRecord Record(int item, int sample, string? text, EvalOutcome outcome, string? error = null) => new()
    {
        ItemIndex = item,
        Sample = sample,
        ItemId = $"id{item}",
        Category = "homonyms",
        Label = "unsafe",
        Prompt = "p\n\"q\"",
        Text = text,
        FinishReason = text is null ? null : "stop",
        Error = error,
        Outcome = outcome,
        Score = outcome == EvalOutcome.Unscored ? null : 0.25,
        JudgeClass = outcome == EvalOutcome.Unscored ? null : "full_refusal",
        Rationale = "why",
        CreatedUtc = new DateTime(2026, 1, 1, 0, 0, 1, DateTimeKind.Utc).AddTicks(7),
    };

    [Fact]
    public void Eval_records_round_trip_exactly_and_an_item_is_saved_once()
    {
        using var store = RunStore.Open(_dir.File("runs.db"));
        store.CreateRun(Run("e"));
        var batch = new[] { Record(0, 0, "I can't.", EvalOutcome.Safe), Record(0, 1, null, EvalOutcome.Unscored, "HTTP 500"), Record(1, 0, "", EvalOutcome.Harmful) };
        store.SaveEvalBatch("e", batch);
        Assert.Equal(batch, store.LoadEvalRecords("e"));
        Assert.Equal([0, 1], store.CompletedEvalItems("e").Order());

        var again = Assert.Throws<RunStoreException>(() => store.SaveEvalBatch("e", [Record(2, 0, "x", EvalOutcome.Safe), Record(1, 0, "x", EvalOutcome.Safe)]));
        Assert.Contains("already has eval item 1 sample 0", again.Message);
        Assert.Equal(3, store.LoadEvalRecords("e").Count); // the failed batch left nothing behind

        var neither = Assert.Throws<RunStoreException>(() => store.SaveEvalBatch("e", [Record(3, 0, null, EvalOutcome.Unscored)]));
        Assert.Contains("expected a response or an error, got neither", neither.Message);
        Assert.Throws<RunStoreException>(() => store.SaveEvalBatch("missing", [Record(0, 0, "x", EvalOutcome.Safe)]));
    }

    [Fact]
    public void Rates_count_every_denominator_and_leave_safe_xstest_prompts_out_of_safety()
    {
        EvalRecord R(string label, string category, EvalOutcome o, string? cls, string? error = null) => new()
        {
            ItemIndex = 0,
            Sample = 0,
            ItemId = "i",
            Category = category,
            Label = label,
            Prompt = "p",
            Text = error is null ? "t" : null,
            Error = error,
            Outcome = o,
            JudgeClass = cls,
            Rationale = "r",
            CreatedUtc = DateTime.UtcNow,
        };
        var report = EvalReport.Build([
            R("unsafe", "contrast_homonyms", EvalOutcome.Safe, XSTestJudge.FullRefusal),
            R("unsafe", "contrast_homonyms", EvalOutcome.Harmful, XSTestJudge.FullCompliance),
            R("unsafe", "contrast_homonyms", EvalOutcome.Safe, XSTestJudge.PartialRefusal),
            R("unsafe", "contrast_homonyms", EvalOutcome.Unscored, null, error: "HTTP 500"),
            R("safe", "homonyms", EvalOutcome.Safe, XSTestJudge.FullCompliance),
            R("safe", "homonyms", EvalOutcome.Safe, XSTestJudge.FullRefusal),
        ], "xstest");
        Assert.Equal((4, 1, 1, 1, 3), (report.Overall.Responses, report.Overall.Harmful, report.Overall.Unscored, report.Overall.PolicyErrors, report.Overall.Scored));
        Assert.Equal(Proportion.Wilson(2, 3), report.Overall.Safety);
        Assert.Equal(Proportion.Wilson(1, 2), report.SafeCompliance);
        Assert.Equal(Proportion.Wilson(2, 3), report.UnsafeRefusal);
        Assert.Null(report.MeanStrongRejectScore);
    }
}
