using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Probe;

/// <summary>One planted weakness (a tactic with the class it was built to produce) and what the probe saw.</summary>
internal sealed record PlantedWeakness(string Tactic, FailureClass Planted, Proportion Observed, bool Found);

/// <summary>
/// How well a probe recovered weaknesses planted by construction (the sandbox world plants them
/// per tactic). Two views:
/// <list type="bullet">
/// <item>case level: of the cases whose tuple should produce class c, the share the probe
/// classified as c (recall per class), plus the full expected × observed confusion matrix;</item>
/// <item>weakness level: a planted weakness (tactic, class) counts as <b>found</b> when at least
/// <see cref="FoundShare"/> of the probed cases with that tactic show the planted class — one
/// stray case is not a finding. Recall = found / planted, per class.</item>
/// </list>
/// </summary>
internal sealed record PlantedWeaknessReport
{
    public const double FoundShare = 0.5;

    public required IReadOnlyDictionary<FailureClass, Proportion> CaseRecall { get; init; }
    public required IReadOnlyDictionary<(FailureClass Expected, FailureClass Observed), int> Confusion { get; init; }
    public required IReadOnlyList<PlantedWeakness> Weaknesses { get; init; }

    /// <summary>Found / planted weaknesses of one class (null when none of that class were planted or probed).</summary>
    public Proportion? WeaknessRecall(FailureClass c)
    {
        var planted = Weaknesses.Where(w => w.Planted == c).ToList();
        return planted.Count == 0 ? null : Proportion.Wilson(planted.Count(w => w.Found), planted.Count);
    }

    /// <param name="expected">The class each tuple was built to produce.</param>
    /// <param name="planted">Each planted weakness: tactic → class. A planted weakness with no probed case counts as not found.</param>
    public static PlantedWeaknessReport Build(IReadOnlyList<ProbeCase> cases, Func<ComponentTuple, FailureClass> expected,
        IReadOnlyDictionary<string, FailureClass> planted)
    {
        var scored = cases.Where(c => c.Class is not null and not FailureClass.Unscored).ToList();
        var pairs = scored.Select(c => (Expected: expected(c.Components), Observed: c.Class!.Value)).ToList();
        var recall = new Dictionary<FailureClass, Proportion>();
        foreach (var g in pairs.GroupBy(p => p.Expected))
            recall[g.Key] = Proportion.Wilson(g.Count(p => p.Observed == g.Key), g.Count());
        var weaknesses = new List<PlantedWeakness>();
        foreach (var (tactic, cls) in planted.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var probed = scored.Where(c => c.Components.Tactic == tactic).ToList();
            var observed = Proportion.Wilson(probed.Count(c => c.Class == cls), probed.Count);
            weaknesses.Add(new PlantedWeakness(tactic, cls, observed, probed.Count > 0 && observed.Rate >= FoundShare));
        }
        return new PlantedWeaknessReport
        {
            CaseRecall = recall,
            Confusion = pairs.GroupBy(p => p).ToDictionary(g => g.Key, g => g.Count()),
            Weaknesses = weaknesses,
        };
    }
}
