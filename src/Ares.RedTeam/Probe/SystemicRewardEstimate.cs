using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Probe;

/// <summary>
/// The GFlowNet selector's reward: for every compatible tuple x, an estimate p̂(x) of the
/// probability that a case built from x is a systemic failure, from the probe history so far.
/// <para>
/// Failure evidence of a scored case: 1 when systemic, <c>one_sided_weight</c> when policy-only or
/// RM-only, 0 when robust (unscored cases and mentor failures carry none). With F and N the summed
/// evidence and the number of scored cases:
/// <list type="bullet">
/// <item>overall rate θ = (F + 1) / (N + 2);</item>
/// <item>per component value v, θ_v = (F_v + κ_c θ) / (N_v + κ_c), shrunk toward θ (κ_c = 2);</item>
/// <item>component model m(x) = min(1, θ Π_k θ_{x_k} / θ): naive Bayes over the four components, so a
/// tuple never probed inherits the evidence of every tuple that shares a component with it;</item>
/// <item>tuple estimate p̂(x) = (F_x + κ_t m(x)) / (N_x + κ_t) (κ_t = 1): the tuple's own cases
/// dominate once it has a few.</item>
/// </list>
/// log R(x) = β log(ε + p̂(x)): ε keeps every tuple reachable, β sharpens the distribution.
/// </para>
/// </summary>
internal static class SystemicRewardEstimate
{
    /// <summary>Pseudo-cases pulling a component value's rate toward the overall rate.</summary>
    public const double ComponentPrior = 2;
    /// <summary>Pseudo-cases of the component model behind a tuple's own rate.</summary>
    public const double TuplePrior = 1;

    /// <summary>The failure evidence one scored case carries (null: the case carries none).</summary>
    public static double? Evidence(FailureClass? c, double oneSidedWeight) => c switch
    {
        FailureClass.Systemic => 1,
        FailureClass.PolicyOnly or FailureClass.RmOnly => oneSidedWeight,
        FailureClass.Robust => 0,
        _ => null,
    };

    /// <summary>p̂(x) for each of <paramref name="tuples"/>, in order.</summary>
    public static double[] Probabilities(IReadOnlyList<ComponentTuple> tuples, IEnumerable<ProbeCase> history, double oneSidedWeight)
    {
        double f = 0, n = 0;
        var byValue = new Dictionary<(ComponentKind, string), (double F, double N)>();
        var byTuple = new Dictionary<ComponentTuple, (double F, double N)>();
        foreach (var c in history)
        {
            if (Evidence(c.Class, oneSidedWeight) is not double e) continue;
            f += e; n++;
            foreach (var kind in ComponentCatalog.Kinds)
            {
                var (fv, nv) = byValue.GetValueOrDefault((kind, c.Components[kind]));
                byValue[(kind, c.Components[kind])] = (fv + e, nv + 1);
            }
            var (ft, nt) = byTuple.GetValueOrDefault(c.Components);
            byTuple[c.Components] = (ft + e, nt + 1);
        }
        var theta = (f + 1) / (n + 2);
        var result = new double[tuples.Count];
        for (var i = 0; i < tuples.Count; i++)
        {
            var t = tuples[i];
            var m = theta;
            foreach (var kind in ComponentCatalog.Kinds)
            {
                var (fv, nv) = byValue.GetValueOrDefault((kind, t[kind]));
                m *= (fv + ComponentPrior * theta) / (nv + ComponentPrior) / theta;
            }
            m = Math.Min(1, m);
            var (ft, nt) = byTuple.GetValueOrDefault(t);
            result[i] = (ft + TuplePrior * m) / (nt + TuplePrior);
        }
        return result;
    }

    /// <summary>log R(x) = β log(ε + p̂(x)).</summary>
    public static double LogReward(double probability, double floor, double exponent) => exponent * Math.Log(floor + probability);
}
