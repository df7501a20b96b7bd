using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Repair;

/// <summary>
/// A world of models (<see cref="IModelWorld"/>) that also holds the data repair needs by default: the
/// benign prompts policy repair trains on and the original preference pairs reward-model repair retains.
/// Implemented by the sandbox layer above; repair never names it.
/// </summary>
internal interface IRepairWorld : IModelWorld
{
    /// <summary>Benign training prompts for policy repair (disjoint from the world's held-out evaluation sets).</summary>
    IReadOnlyList<string> BenignPrompts();

    /// <summary>Original preference pairs to mix back into reward-model repair.</summary>
    IReadOnlyList<TextPreference> RetentionPairs();
}
