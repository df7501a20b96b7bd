using Ares.RedTeam.Catalog;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Tests.Probe;

public class AdaptiveSelectorTests
{
    static readonly ComponentCatalog Catalog = ComponentCatalog.Default();

    /// <summary>Runs the selector against an oracle that fails exactly on one tactic, batch by batch.</summary>
    static List<ProbeCase> Simulate(SelectorConfig config, string failingTactic, FailureClass failure, int batches = 25, int batch = 16, long seed = 3)
    {
        var selector = new AdaptiveSelector(Catalog, config);
        var cases = new List<ProbeCase>();
        for (var b = 0; b < batches; b++)
        {
            var indices = Enumerable.Range(b * batch, batch).ToList();
            foreach (var (t, i) in selector.Select(indices, cases, seed).Zip(indices))
                cases.Add(new ProbeCase
                {
                    Index = i, Components = t, Seed = i, CreatedUtc = DateTime.UtcNow,
                    Class = t.Tactic == failingTactic ? failure : FailureClass.Robust,
                });
        }
        return cases;
    }

    static double Share(IEnumerable<ProbeCase> cases, string tactic) => cases.Average(c => c.Components.Tactic == tactic ? 1.0 : 0.0);

    [Fact]
    public void Budget_shifts_toward_a_failing_tactic_while_every_tactic_is_still_explored()
    {
        var cases = Simulate(new SelectorConfig { Exploration = 0.25 }, "hypothetical", FailureClass.Systemic);
        var late = cases.Skip(200).ToList();
        Assert.True(Share(late, "hypothetical") > 0.5, $"late share of the failing tactic: {Share(late, "hypothetical"):P0}");
        // Exploration keeps sampling the others: each tactic still appears after adaptation has set in.
        foreach (var tactic in Catalog.Tactics.Select(t => t.Id))
            Assert.Contains(late.Concat(cases.Take(200)), c => c.Components.Tactic == tactic);
        var others = late.Where(c => c.Components.Tactic != "hypothetical").Count();
        Assert.True(others >= 0.25 * late.Count * 0.9 * 0.5, $"only {others} of {late.Count} late cases explored other tactics");
    }

    [Fact]
    public void Full_exploration_stays_uniform()
    {
        var cases = Simulate(new SelectorConfig { Exploration = 1.0 }, "hypothetical", FailureClass.Systemic);
        var share = Share(cases, "hypothetical");
        Assert.InRange(share, 0.05, 0.16); // a tenth of the tactics, under the catalog's constraints
    }

    [Fact]
    public void Systemic_failures_attract_more_budget_than_one_sided_ones()
    {
        var systemic = Share(Simulate(new SelectorConfig(), "authority", FailureClass.Systemic).Skip(200), "authority");
        var rmOnly = Share(Simulate(new SelectorConfig { RmOnlyWeight = 0.2 }, "authority", FailureClass.RmOnly).Skip(200), "authority");
        Assert.True(systemic > rmOnly, $"systemic {systemic:P0} vs rm-only {rmOnly:P0}");
    }

    [Fact]
    public void Selection_depends_only_on_seed_index_and_history()
    {
        var a = Simulate(new SelectorConfig(), "fiction", FailureClass.PolicyOnly, batches: 6);
        var b = Simulate(new SelectorConfig(), "fiction", FailureClass.PolicyOnly, batches: 6);
        Assert.Equal(a.Select(c => c.Components), b.Select(c => c.Components));
        var c = Simulate(new SelectorConfig(), "fiction", FailureClass.PolicyOnly, batches: 6, seed: 4);
        Assert.NotEqual(a.Select(x => x.Components), c.Select(x => x.Components));
    }

    [Fact]
    public void Selected_tuples_are_always_compatible() =>
        Assert.All(Simulate(new SelectorConfig(), "roleplay", FailureClass.Systemic, batches: 5), c => Assert.True(Catalog.IsCompatible(c.Components)));

    [Fact]
    public void Beta_samples_have_the_right_mean()
    {
        var rng = new Random(1);
        var mean = Enumerable.Range(0, 20000).Average(_ => AdaptiveSelector.SampleBeta(rng, 2, 6));
        Assert.Equal(0.25, mean, 2);
        var small = Enumerable.Range(0, 20000).Average(_ => AdaptiveSelector.SampleBeta(rng, 0.5, 0.5));
        Assert.Equal(0.5, small, 1);
    }

    [Fact]
    public void Bad_settings_are_named() =>
        Assert.Contains("selector.exploration", Assert.Throws<ArgumentException>(() => new AdaptiveSelector(Catalog, new SelectorConfig { Exploration = 1.5 })).Message);
}
