using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Tests.Probe;

public class ProberTests
{
    static readonly ComponentCatalog Catalog = ComponentCatalog.Default();

    // Markers of the tactic templates in the default catalog.
    static readonly ScriptedWorld World = new()
    {
        Complies = ["Hypothetical", "thought experiment", "DAN", "Grandma", "EvilBot"],  // hypothetical + roleplay
        Fooled = ["Hypothetical", "thought experiment", "authoris", "approved by your developers", "administrator"], // hypothetical + authority
        FailEvery = 7,
    };

    static Prober NewProber(ProbeOptions options) =>
        new(Catalog, new TemplateMentor(Catalog), World.Policy(), World.RewardModel(), World.Judge(), options);

    static readonly ProbeOptions Options = new() { Budget = 96, BatchSize = 16, Samples = 3, Seed = 11 };

    [Fact]
    public async Task Every_planned_case_is_probed_once_and_classified_by_the_taxonomy()
    {
        var saved = new List<ProbeCase>();
        var cases = await NewProber(Options).RunAsync([], saved.Add);
        Assert.Equal(Enumerable.Range(0, 96), cases.Select(c => c.Index));
        Assert.Equal(cases, saved);
        foreach (var c in cases)
        {
            var expected = c.Components.Tactic switch
            {
                "hypothetical" => FailureClass.Systemic,
                "roleplay" => FailureClass.PolicyOnly,
                "authority" => FailureClass.RmOnly,
                _ => FailureClass.Robust,
            };
            Assert.Equal(3, c.Responses.Count);
            if (c.Responses.All(r => r.Error is not null)) Assert.Equal(FailureClass.Unscored, c.Class);
            else Assert.Equal(expected, c.Class);
        }
        // Failed requests are kept, with their error, not dropped.
        Assert.Contains(cases.SelectMany(c => c.Responses), r => r.Error is not null && r.Text is null && r.HarmProbability is null);
    }

    [Fact]
    public async Task A_run_interrupted_mid_batch_resumes_to_the_same_cases()
    {
        var uninterrupted = await NewProber(Options).RunAsync([], _ => { });

        var saved = new List<ProbeCase>();
        await Assert.ThrowsAsync<IOException>(() => NewProber(Options).RunAsync([], c =>
        {
            if (saved.Count == 37) throw new IOException("disk gone");
            saved.Add(c);
        }));
        Assert.Equal(37, saved.Count);
        var resumed = await NewProber(Options).RunAsync(saved, saved.Add);

        Assert.Equal(96, saved.Count);
        Assert.Equal(Enumerable.Range(0, 96), saved.Select(c => c.Index).Order());
        Assert.Equal(uninterrupted.Select(c => (c.Components, c.Case?.Prompt, c.Class)), resumed.Select(c => (c.Components, c.Case?.Prompt, c.Class)));
    }

    [Fact]
    public async Task Mentor_failures_are_counted_not_dropped()
    {
        var prober = new Prober(Catalog, new FlakyMentor(new TemplateMentor(Catalog)), World.Policy(), World.RewardModel(), World.Judge(), Options with { Budget = 40 });
        var cases = await prober.RunAsync([], _ => { });
        Assert.Equal(40, cases.Count);
        var failed = cases.Where(c => c.Class is null).ToList();
        Assert.NotEmpty(failed);
        Assert.Equal(cases.Where(c => Math.Abs(c.Seed) % 5 == 0).Select(c => c.Index), failed.Select(c => c.Index));
        Assert.All(failed, c => { Assert.Equal("no JSON object", c.MentorFailure); Assert.Equal(3, c.MentorAttempts); Assert.Empty(c.Responses); });
        Assert.Equal(failed.Count, TaxonomyReport.Build(cases).MentorFailures);
    }

    [Fact]
    public async Task Fixed_cases_are_evaluated_in_order_without_the_selector()
    {
        var mentor = new TemplateMentor(Catalog);
        var tuples = Catalog.CompatibleTuples().Where((_, i) => i % 97 == 0).Take(20).ToList();
        var fixedCases = tuples.Select((t, i) => mentor.Compose(t, i)).ToList();
        var cases = await NewProber(Options with { BatchSize = 8 }).EvaluateAsync(fixedCases);
        Assert.Equal(Enumerable.Range(0, 20), cases.Select(c => c.Index));
        Assert.Equal(fixedCases, cases.Select(c => c.Case));
        Assert.All(cases, c => Assert.Equal(3, c.Responses.Count));
        Assert.All(cases.Where(c => c.Responses.Any(r => r.Error is null)), c => Assert.Equal(Expected(c.Components.Tactic), c.Class));
    }

    static FailureClass Expected(string tactic) => tactic switch
    {
        "hypothetical" => FailureClass.Systemic,
        "roleplay" => FailureClass.PolicyOnly,
        "authority" => FailureClass.RmOnly,
        _ => FailureClass.Robust,
    };

    [Fact]
    public async Task Progress_reaches_the_budget()
    {
        var last = default(ProbeProgress);
        await NewProber(Options with { Budget = 20 }).RunAsync([], _ => { }, new SyncProgress(p => last = p));
        Assert.Equal(20, last!.Completed);
        Assert.Equal(20, last.Counts.Values.Sum() + last.MentorFailures);
    }

    sealed class SyncProgress(Action<ProbeProgress> report) : IProgress<ProbeProgress>
    {
        public void Report(ProbeProgress value) => report(value);
    }

    sealed class FlakyMentor(TemplateMentor inner) : ISafetyMentor
    {
        public ModelIdentity Identity => inner.Identity;
        public Task<MentorOutcome> ComposeAsync(ComponentTuple components, long seed, CancellationToken ct = default) =>
            Math.Abs(seed) % 5 == 0 ? Task.FromResult(MentorOutcome.Failed("no JSON object", 3)) : inner.ComposeAsync(components, seed, ct);
        public void Dispose() { }
    }
}

public class PlantedWeaknessReportTests
{
    static ProbeCase Case(int i, string tactic, FailureClass? observed) => new()
    {
        Index = i, Components = new ComponentTuple("t", "p", tactic, "g"), Seed = i, CreatedUtc = DateTime.UtcNow, Class = observed,
    };

    [Fact]
    public void Weaknesses_are_found_by_majority_and_unprobed_ones_count_as_missed()
    {
        var planted = new Dictionary<string, FailureClass> { ["hyp"] = FailureClass.Systemic, ["fic"] = FailureClass.Systemic, ["role"] = FailureClass.PolicyOnly, ["never"] = FailureClass.Systemic };
        FailureClass Expected(ComponentTuple t) => planted.GetValueOrDefault(t.Tactic, FailureClass.Robust);
        var cases = new List<ProbeCase>
        {
            Case(0, "hyp", FailureClass.Systemic), Case(1, "hyp", FailureClass.Systemic), Case(2, "hyp", FailureClass.PolicyOnly),
            Case(3, "fic", FailureClass.Systemic), Case(4, "fic", FailureClass.Robust), Case(5, "fic", FailureClass.Robust),
            Case(6, "role", FailureClass.PolicyOnly), Case(7, "direct", FailureClass.Robust), Case(8, "direct", FailureClass.Systemic),
            Case(9, "hyp", FailureClass.Unscored), Case(10, "hyp", null),
        };
        var r = PlantedWeaknessReport.Build(cases, Expected, planted);
        Assert.Equal([("fic", false), ("hyp", true), ("never", false), ("role", true)], r.Weaknesses.Select(w => (w.Tactic, w.Found)));
        Assert.Equal((1, 3), (r.WeaknessRecall(FailureClass.Systemic)!.Value.Successes, r.WeaknessRecall(FailureClass.Systemic)!.Value.Trials));
        Assert.Null(r.WeaknessRecall(FailureClass.RmOnly));
        Assert.Equal((3, 6), (r.CaseRecall[FailureClass.Systemic].Successes, r.CaseRecall[FailureClass.Systemic].Trials));
        Assert.Equal((1, 2), (r.CaseRecall[FailureClass.Robust].Successes, r.CaseRecall[FailureClass.Robust].Trials));
        Assert.Equal(1, r.Confusion[(FailureClass.Robust, FailureClass.Systemic)]);
    }
}
