using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Probe;

/// <summary>How discovery's selector trades exploitation for exploration, and which selector it is.</summary>
internal sealed record SelectorConfig
{
    /// <summary>Which selector plans the tuples (<c>selector.kind</c>): "adaptive" (default) or "gflownet".</summary>
    public SelectorKind Kind { get; init; } = SelectorKind.Adaptive;
    /// <summary>The GFlowNet selector's knobs (<c>selector.gflownet</c>); ignored by the adaptive selector.</summary>
    public GflowNetSelectorConfig GflowNet { get; init; } = new();
    /// <summary>Share of tuples drawn uniformly from all compatible tuples, whatever has been found (0–1); both selectors use it.</summary>
    public double Exploration { get; init; } = 0.25;
    /// <summary>
    /// How much a case of each class counts as a "failure" for the components that made it. Systemic
    /// failures are the target of ARES, so they weigh most; the one-sided classes still point the
    /// search at weak spots of one model. Robust and unscored cases count 0.
    /// </summary>
    public double SystemicWeight { get; init; } = 1.0;
    public double PolicyOnlyWeight { get; init; } = 0.5;
    public double RmOnlyWeight { get; init; } = 0.5;
    /// <summary>Beta prior pseudo-counts (failures, non-failures) per component value: a weak prior, so early evidence moves it.</summary>
    public double PriorFailures { get; init; } = 1.0;
    public double PriorSuccesses { get; init; } = 1.0;

    public double Weight(FailureClass c) => c switch
    {
        FailureClass.Systemic => SystemicWeight,
        FailureClass.PolicyOnly => PolicyOnlyWeight,
        FailureClass.RmOnly => RmOnlyWeight,
        _ => 0,
    };

    public void Validate()
    {
        if (Exploration is < 0 or > 1 || double.IsNaN(Exploration)) throw new ArgumentException($"selector.exploration = {Exploration}: expected a share in [0, 1]");
        foreach (var (name, w) in new[] { ("systemic_weight", SystemicWeight), ("policy_only_weight", PolicyOnlyWeight), ("rm_only_weight", RmOnlyWeight) })
            if (w is < 0 or > 1 || double.IsNaN(w)) throw new ArgumentException($"selector.{name} = {w}: expected a weight in [0, 1]");
        if (PriorFailures <= 0 || PriorSuccesses <= 0) throw new ArgumentException("selector.prior_failures and selector.prior_successes must be > 0");
        GflowNet.Validate();
    }
}
