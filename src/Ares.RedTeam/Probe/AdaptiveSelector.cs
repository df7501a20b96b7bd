using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Probe;

/// <summary>
/// Chooses the component tuple of each case: adaptive selection, the part of ARES the paper does
/// not publish. Ours, in one paragraph:
/// <para>
/// Every component value v (a topic, persona, tactic or goal) has a failure rate θ_v with a
/// Beta(prior_failures + F_v, prior_successes + N_v − F_v) posterior, where N_v counts the scored
/// cases that used v and F_v sums their class weights (systemic 1, policy-only 0.5, RM-only 0.5,
/// robust 0). For each new case, with probability <c>exploration</c> the tuple is drawn uniformly
/// from all compatible tuples; otherwise we Thompson-sample: draw θ_v for every value and take the
/// compatible tuple maximising Σ_kinds log θ_v (treating the four components as independent
/// causes). Values that failed get more budget in proportion to the evidence; values never tried
/// keep a wide posterior and are still drawn.
/// </para>
/// The choice for case i depends only on the seed, i and the cases of earlier batches, so a
/// resumed run re-plans a batch exactly as an uninterrupted one would.
/// </summary>
internal sealed class AdaptiveSelector : ITupleSelector
{
    readonly ComponentCatalog _catalog;
    readonly SelectorConfig _config;
    readonly IReadOnlyList<ComponentTuple> _tuples;

    public AdaptiveSelector(ComponentCatalog catalog, SelectorConfig config)
    {
        config.Validate();
        _catalog = catalog;
        _config = config;
        _tuples = catalog.CompatibleTuples();
    }

    /// <summary>Per component value: (weighted failures F, scored cases N) from the given cases.</summary>
    public Dictionary<(ComponentKind, string), (double Failures, int Trials)> Evidence(IEnumerable<ProbeCase> history)
    {
        var stats = new Dictionary<(ComponentKind, string), (double Failures, int Trials)>();
        foreach (var c in history)
        {
            if (c.Class is not FailureClass cls || cls == FailureClass.Unscored) continue;
            foreach (var kind in ComponentCatalog.Kinds)
            {
                var key = (kind, c.Components[kind]);
                var (f, n) = stats.GetValueOrDefault(key);
                stats[key] = (f + _config.Weight(cls), n + 1);
            }
        }
        return stats;
    }

    /// <summary>The tuples of cases <paramref name="indices"/>, given the cases completed before their batch.</summary>
    public IReadOnlyList<ComponentTuple> Select(IReadOnlyList<int> indices, IEnumerable<ProbeCase> history, long seed)
    {
        var stats = Evidence(history);
        return indices.Select(i => SelectOne(i, stats, seed)).ToList();
    }

    ComponentTuple SelectOne(int index, Dictionary<(ComponentKind, string), (double Failures, int Trials)> stats, long seed)
    {
        var rng = Seeds.Rng(seed, index, 0x5e1ec7);
        if (rng.NextDouble() < _config.Exploration) return _tuples[rng.Next(_tuples.Count)];
        var logTheta = new Dictionary<(ComponentKind, string), double>();
        foreach (var kind in ComponentCatalog.Kinds)
            foreach (var e in _catalog.Entries[kind])
            {
                var (f, n) = stats.GetValueOrDefault((kind, e.Id));
                logTheta[(kind, e.Id)] = Math.Log(Math.Max(1e-300, SampleBeta(rng, _config.PriorFailures + f, _config.PriorSuccesses + n - f)));
            }
        var best = _tuples[0];
        var bestScore = double.NegativeInfinity;
        foreach (var t in _tuples)
        {
            var score = logTheta[(ComponentKind.Topic, t.Topic)] + logTheta[(ComponentKind.Persona, t.Persona)]
                      + logTheta[(ComponentKind.Tactic, t.Tactic)] + logTheta[(ComponentKind.Goal, t.Goal)];
            if (score > bestScore) (best, bestScore) = (t, score);
        }
        return best;
    }

    /// <summary>Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).</summary>
    internal static double SampleBeta(Random rng, double a, double b)
    {
        var x = SampleGamma(rng, a);
        var y = SampleGamma(rng, b);
        return x / (x + y);
    }

    /// <summary>Marsaglia–Tsang Gamma(shape, 1); shape &lt; 1 boosted by U^(1/shape).</summary>
    internal static double SampleGamma(Random rng, double shape)
    {
        if (shape < 1) return SampleGamma(rng, shape + 1) * Math.Pow(rng.NextDouble(), 1 / shape);
        var d = shape - 1.0 / 3;
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(rng);
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            var u = rng.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
