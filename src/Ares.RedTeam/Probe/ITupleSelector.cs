using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Probe;

/// <summary>Which selector plans discovery's tuples (probe config <c>selector.kind</c>).</summary>
internal enum SelectorKind
{
    /// <summary>Thompson sampling over per-component failure rates plus uniform exploration (<see cref="AdaptiveSelector"/>).</summary>
    Adaptive,
    /// <summary>A GFlowNet over tuples whose reward is the estimated probability of a systemic failure (<see cref="GflowNetSelector"/>).</summary>
    GflowNet,
}

/// <summary>
/// Chooses the component tuple of each planned case. Contract: the tuples of
/// <paramref name="indices"/> depend only on the seed, each index and <paramref name="history"/>
/// (the cases completed before their batch), so a resumed run re-plans a batch exactly as an
/// uninterrupted one would; every returned tuple is compatible under the catalog.
/// </summary>
internal interface ITupleSelector
{
    IReadOnlyList<ComponentTuple> Select(IReadOnlyList<int> indices, IEnumerable<ProbeCase> history, long seed);
}

internal static class TupleSelectors
{
    public static ITupleSelector Create(ComponentCatalog catalog, SelectorConfig config) => config.Kind switch
    {
        SelectorKind.GflowNet => new GflowNetSelector(catalog, config),
        _ => new AdaptiveSelector(catalog, config),
    };
}
