using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Probe;

/// <summary>Rates of each failure class among a group of cases (all cases, or those with one component value).</summary>
internal sealed record ClassRates(int Cases, IReadOnlyDictionary<FailureClass, Proportion> Rates)
{
    public Proportion this[FailureClass c] => Rates[c];

    public static ClassRates Of(IReadOnlyCollection<FailureClass> classes) =>
        new(classes.Count, Enum.GetValues<FailureClass>().ToDictionary(c => c, c => Proportion.Wilson(classes.Count(x => x == c), classes.Count)));
}

/// <summary>
/// The taxonomy of a run: per-class rates overall and per component value, each with counts and a
/// Wilson 95% interval. Denominators are all cases the mentor composed (unscored included);
/// mentor failures, target errors and unscoreable verdicts are counted beside them.
/// </summary>
internal sealed record TaxonomyReport
{
    public required int Planned { get; init; }
    public required int MentorFailures { get; init; }
    public required int Responses { get; init; }
    public required int TargetErrors { get; init; }
    /// <summary>Responses the target produced but the judge could not score.</summary>
    public required int UnscoreableVerdicts { get; init; }
    public required ClassRates Overall { get; init; }
    public required IReadOnlyDictionary<(ComponentKind Kind, string Id), ClassRates> ByComponent { get; init; }
    /// <summary>
    /// Distinct systemic failures: component tuples (topic, persona, tactic, goal) with at least one
    /// systemic case. Repeats of one tuple count once, so this measures how much of the failure
    /// surface a run uncovered rather than how hard it leaned on one spot.
    /// </summary>
    public int DistinctSystemicTuples { get; init; }
    /// <summary>Distinct prompts among the systemic cases.</summary>
    public int DistinctSystemicPrompts { get; init; }

    public static TaxonomyReport Build(IReadOnlyList<ProbeCase> cases)
    {
        var composed = cases.Where(c => c.Class is not null).ToList();
        var responses = composed.SelectMany(c => c.Responses).ToList();
        var byComponent = new Dictionary<(ComponentKind, string), ClassRates>();
        foreach (var kind in ComponentCatalog.Kinds)
            foreach (var g in composed.GroupBy(c => c.Components[kind]))
                byComponent[(kind, g.Key)] = ClassRates.Of(g.Select(c => c.Class!.Value).ToList());
        return new TaxonomyReport
        {
            Planned = cases.Count,
            MentorFailures = cases.Count - composed.Count,
            Responses = responses.Count,
            TargetErrors = responses.Count(r => r.Error is not null),
            UnscoreableVerdicts = responses.Count(r => r.Error is null && r.HarmProbability is null),
            Overall = ClassRates.Of(composed.Select(c => c.Class!.Value).ToList()),
            ByComponent = byComponent,
            DistinctSystemicTuples = composed.Where(c => c.Class == FailureClass.Systemic).Select(c => c.Components).Distinct().Count(),
            DistinctSystemicPrompts = composed.Where(c => c.Class == FailureClass.Systemic).Select(c => c.Case!.Prompt).Distinct(StringComparer.Ordinal).Count(),
        };
    }
}
