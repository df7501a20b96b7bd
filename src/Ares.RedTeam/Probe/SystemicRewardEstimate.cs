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
/// </list>
/// p̂(x) = m(x): a tuple's own cases count only through its components. Trusting them directly made
/// the sampler return to tuples it had already seen fail, which finds nothing new.
/// The GFlowNet is trained on log R(x) = β log(ε + p̂(x)): ε keeps every tuple reachable, β sharpens
/// the distribution. Discovery is after <i>distinct</i> systemic failures, so the selector samples
/// R(x) δ^{v_x} instead, v_x being the tuple's composed cases so far: the smooth part is what the
/// policy learns and generalises; the per-tuple factor δ^{v_x} is known exactly and applied by
/// rejection at sampling time (a per-tuple dip is what a small policy learns worst).
/// </para>
/// </summary>
internal static class SystemicRewardEstimate
{
    /// <summary>Pseudo-cases pulling a component value's rate toward the overall rate.</summary>
    public const double ComponentPrior = 2;

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
        foreach (var c in history)
        {
            if (Evidence(c.Class, oneSidedWeight) is not double e) continue;
            f += e; n++;
            foreach (var kind in ComponentCatalog.Kinds)
            {
                var (fv, nv) = byValue.GetValueOrDefault((kind, c.Components[kind]));
                byValue[(kind, c.Components[kind])] = (fv + e, nv + 1);
            }
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
            result[i] = Math.Min(1, m);
        }
        return result;
    }

    /// <summary>How many composed cases each of <paramref name="tuples"/> already has (mentor failures do not count).</summary>
    public static int[] Visits(IReadOnlyList<ComponentTuple> tuples, IEnumerable<ProbeCase> history)
    {
        var counts = history.Where(c => c.Class is not null).GroupBy(c => c.Components).ToDictionary(g => g.Key, g => g.Count());
        return tuples.Select(t => counts.GetValueOrDefault(t)).ToArray();
    }

    /// <summary>log R(x) = β log(ε + p̂(x)).</summary>
    public static double LogReward(double probability, GflowNetSelectorConfig c) => c.RewardExponent * Math.Log(c.RewardFloor + probability);
}
