using Ares.RedTeam.Catalog;
using Ares.RedTeam.Probe;
using Xunit.Abstractions;

namespace Ares.RedTeam.Tests.Probe;

public class GflowNetSelectorTests(ITestOutputHelper output)
{
    static readonly ComponentCatalog Catalog = ComponentCatalog.Default();
    static readonly SelectorConfig Gfn = new() { Kind = SelectorKind.GflowNet };

    /// <summary>A scripted world: systemic exactly when the tactic is hypothetical or fiction and the topic one of three.</summary>
    static FailureClass Oracle(ComponentTuple t) =>
        t.Tactic is "hypothetical" or "fiction" && t.Topic is "weapons" or "fraud" or "privacy" ? FailureClass.Systemic : FailureClass.Robust;

    static ProbeCase Case(int index, ComponentTuple t, FailureClass? c) =>
        new() { Index = index, Components = t, Seed = index, CreatedUtc = DateTime.UnixEpoch, Class = c };

    /// <summary>Runs a selector against <see cref="Oracle"/>, batch by batch, as the prober does.</summary>
    static List<ProbeCase> Simulate(ITupleSelector selector, int batches, int batch = 16, long seed = 3)
    {
        var cases = new List<ProbeCase>();
        for (var b = 0; b < batches; b++)
        {
            var indices = Enumerable.Range(b * batch, batch).ToList();
            foreach (var (t, i) in selector.Select(indices, cases, seed).Zip(indices)) cases.Add(Case(i, t, Oracle(t)));
        }
        return cases;
    }

    /// <summary>A history of uniformly drawn tuples, classified by the oracle.</summary>
    static List<ProbeCase> UniformHistory(int n, int seed = 5)
    {
        var tuples = Catalog.CompatibleTuples();
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(i => tuples[rng.Next(tuples.Count)]).Select((t, i) => Case(i, t, Oracle(t))).ToList();
    }

    static int DistinctSystemic(IEnumerable<ProbeCase> cases) =>
        cases.Where(c => c.Class == FailureClass.Systemic).Select(c => c.Components).Distinct().Count();

    [Fact]
    public void The_trained_policy_samples_tuples_in_proportion_to_the_reward()
    {
        var selector = new GflowNetSelector(Catalog, Gfn);
        var plan = selector.Train(UniformHistory(160), seed: 1);

        var p = plan.Distribution();
        var maxLogR = plan.LogReward.Max();
        var r = plan.LogReward.Select(x => Math.Exp(x - maxLogR)).ToArray();
        var target = r.Select(x => x / r.Sum()).ToArray();
        Assert.Equal(1.0, p.Sum(), 4);
        output.WriteLine($"TV {0.5 * p.Zip(target).Sum(x => Math.Abs(x.First - x.Second)):F4}, final TB loss {plan.FinalLoss:F4}");
        var tv = 0.5 * p.Zip(target).Sum(x => Math.Abs(x.First - x.Second));
        Assert.True(tv < 0.1, $"total variation between the policy and R/Z: {tv:F3} (final TB loss {plan.FinalLoss:F4})");
        // The mass the reward puts on the truly systemic tuples is where the policy puts it.
        var rewarded = selector.Space.Tuples.Select(t => Oracle(t) == FailureClass.Systemic).ToArray();
        double onPolicy = p.Where((_, i) => rewarded[i]).Sum(), onTarget = target.Where((_, i) => rewarded[i]).Sum();
        Assert.True(onTarget > 0.5, $"the reward puts only {onTarget:P0} on systemic tuples");
        output.WriteLine($"mass on systemic tuples: policy {onPolicy:P1}, R/Z {onTarget:P1}");
        Assert.InRange(onPolicy, onTarget - 0.1, onTarget + 0.1);
    }

    [Fact]
    public void A_tuple_already_probed_is_drawn_a_revisit_discount_as_often_as_its_unprobed_twins()
    {
        var selector = new GflowNetSelector(Catalog, Gfn with { GflowNet = new GflowNetSelectorConfig { Steps = 60 } });
        var history = UniformHistory(160);
        var plan = selector.Train(history, seed: 1);
        var p = plan.Distribution();
        var probed = history.Select(c => selector.Space.IndexOf[c.Components]).ToHashSet();
        var systemic = Enumerable.Range(0, p.Length).Where(i => Oracle(selector.Space.Tuples[i]) == FailureClass.Systemic).ToList();
        // Expected draws per tuple under x ∝ P_θ(x) δ^{v_x}, against what the sampler does.
        var weight = Enumerable.Range(0, p.Length).Select(i => p[i] * Math.Pow(0.1, plan.Visits[i])).ToArray();
        var rng = new Random(9);
        var counts = new int[p.Length];
        const int n = 20000;
        for (var k = 0; k < n; k++) counts[selector.Space.IndexOf[plan.Sample(rng)]]++;
        double Share(IEnumerable<int> set) => set.Sum(i => counts[i]) / (double)n;
        double Expected(IEnumerable<int> set) => set.Sum(i => weight[i]) / weight.Sum();
        var seen = systemic.Where(probed.Contains).ToList();
        output.WriteLine($"probed systemic tuples: {Share(seen):P2} of draws (expected {Expected(seen):P2}, {seen.Sum(i => p[i]):P2} without the discount)");
        Assert.InRange(Share(seen), Expected(seen) - 0.01, Expected(seen) + 0.01);
        Assert.InRange(Share(systemic), Expected(systemic) - 0.02, Expected(systemic) + 0.02);
        Assert.True(Share(seen) < 0.5 * seen.Sum(i => p[i]));
    }

    [Fact]
    public void At_equal_budget_it_finds_more_distinct_systemic_tuples_than_the_adaptive_selector()
    {
        var adaptive = Simulate(new AdaptiveSelector(Catalog, new SelectorConfig()), batches: 12);
        var gfn = Simulate(new GflowNetSelector(Catalog, Gfn), batches: 12);
        var late = gfn.Skip(96).ToList();
        output.WriteLine($"distinct systemic tuples at 192 cases: gflownet {DistinctSystemic(gfn)} ({gfn.Count(c => c.Class == FailureClass.Systemic)} systemic cases), " +
                         $"adaptive {DistinctSystemic(adaptive)} ({adaptive.Count(c => c.Class == FailureClass.Systemic)} systemic cases)");
        Assert.True(late.Count(c => c.Class == FailureClass.Systemic) > 0.4 * late.Count,
            $"late systemic share {late.Count(c => c.Class == FailureClass.Systemic)}/{late.Count} (the oracle's systemic tuples are ~6% of all)");
        Assert.True(DistinctSystemic(gfn) > 1.2 * DistinctSystemic(adaptive),
            $"distinct systemic tuples: gflownet {DistinctSystemic(gfn)} vs adaptive {DistinctSystemic(adaptive)}");
    }

    [Fact]
    public void Selection_depends_only_on_seed_index_and_history()
    {
        var history = UniformHistory(48);
        var config = Gfn with { GflowNet = new GflowNetSelectorConfig { Steps = 40 } };
        var indices = Enumerable.Range(48, 16).ToList();
        var a = new GflowNetSelector(Catalog, config).Select(indices, history, seed: 7);
        var b = new GflowNetSelector(Catalog, config).Select(indices, history, seed: 7);
        Assert.Equal(a, b);
        // A resumed batch plans only its missing cases: each gets the tuple it had in the full batch.
        var missing = indices.Where(i => i % 3 == 0).ToList();
        Assert.Equal(missing.Select(i => a[i - 48]), new GflowNetSelector(Catalog, config).Select(missing, history, seed: 7));
        Assert.NotEqual(a, new GflowNetSelector(Catalog, config).Select(indices, history, seed: 8));
    }

    [Fact]
    public void Every_selected_tuple_is_compatible_and_every_compatible_tuple_stays_reachable()
    {
        var selector = new GflowNetSelector(Catalog, Gfn with { GflowNet = new GflowNetSelectorConfig { Steps = 20 } });
        var plan = selector.Train(UniformHistory(32), seed: 2);
        Assert.All(plan.Distribution(), p => Assert.True(p > 0));
        var rng = new Random(4);
        Assert.All(Enumerable.Range(0, 500).Select(_ => plan.Sample(rng)), t => Assert.True(Catalog.IsCompatible(t), $"{t}"));
        // The catalog's constraints: a persuade goal only with its topics, target_person never with a teacher.
        Assert.DoesNotContain(selector.Space.Tuples, t => t.Goal == "target_person" && t.Persona == "teacher");
    }

    [Fact]
    public void Training_leaves_no_live_tensors_behind()
    {
        var selector = new GflowNetSelector(Catalog, Gfn with { GflowNet = new GflowNetSelectorConfig { Steps = 12 } });
        var history = UniformHistory(32);
        selector.Train(history, seed: 1);   // warm-up: lazily created state is not a leak
        var before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        selector.Train(history, seed: 2);
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Without_evidence_the_tuples_are_uniform_over_compatible_ones()
    {
        var tuples = new GflowNetSelector(Catalog, Gfn).Select(Enumerable.Range(0, 400).ToList(), [Case(0, Catalog.CompatibleTuples()[0], null)], seed: 1);
        var share = tuples.Average(t => t.Tactic == "fiction" ? 1.0 : 0.0);
        Assert.InRange(share, 0.06, 0.14);   // a tenth of the tactics
    }

    [Fact]
    public void The_reward_estimate_matches_hand_computed_values()
    {
        var a = new ComponentTuple("weapons", "student", "fiction", "instructions");
        var b = new ComponentTuple("fraud", "student", "direct", "instructions");
        var unseen = new ComponentTuple("fraud", "novelist", "fiction", "plan");
        var history = new[] { Case(0, a, FailureClass.Systemic), Case(1, b, FailureClass.PolicyOnly), Case(2, b, FailureClass.Robust), Case(3, b, null), Case(4, a, FailureClass.Unscored) };
        var p = SystemicRewardEstimate.Probabilities([a, unseen], history, oneSidedWeight: 0.5);

        // F = 1.5 over N = 3 scored cases: θ = 2.5/5 = 0.5. Component rates θ_v = (F_v + 2θ)/(N_v + 2).
        const double theta = 0.5;
        double Rate(double f, double n) => (f + 2 * theta) / (n + 2) / theta;
        var mA = Math.Min(1, theta * Rate(1, 1) * Rate(1.5, 3) * Rate(1, 1) * Rate(1.5, 3));   // weapons, student, fiction, instructions
        Assert.Equal(mA, p[0], 12);
        var mUnseen = Math.Min(1, theta * Rate(0.5, 2) * Rate(0, 0) * Rate(1, 1) * Rate(0, 0));  // fraud, novelist, fiction, plan
        Assert.Equal(mUnseen, p[1], 12);
        Assert.Equal([2, 0], SystemicRewardEstimate.Visits([a, unseen], history));   // composed cases: the systemic and the unscored one
        Assert.Equal(2 * Math.Log(0.02 + 0.3), SystemicRewardEstimate.LogReward(0.3, new GflowNetSelectorConfig { RewardFloor = 0.02, RewardExponent = 2 }), 12);
    }
}
