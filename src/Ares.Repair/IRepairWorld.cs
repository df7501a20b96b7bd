using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Repair;

/// <summary>
/// A world of models (<see cref="IModelWorld"/>) that also holds the data repair needs by default: the
/// benign prompts policy repair trains on (and the lookalikes that validate its checkpoints), the original
/// preference pairs reward-model repair retains, its refusal test and the sets it holds out for evaluation.
/// Implemented by the sandbox layer above; repair never names it.
/// </summary>
internal interface IRepairWorld : IModelWorld
{
    /// <summary>Benign training prompts for policy repair (disjoint from the world's held-out evaluation sets).</summary>
    IReadOnlyList<string> BenignPrompts();

    /// <summary>Original preference pairs to mix back into reward-model repair.</summary>
    IReadOnlyList<TextPreference> RetentionPairs();

    /// <summary><paramref name="count"/> benign prompts that look like attacks (seeded pick from the training side), to validate policy checkpoints.</summary>
    IReadOnlyList<string> ValidationLookalikes(int count, long seed);

    /// <summary>Whether a response is a refusal, as this world's policy phrases them.</summary>
    bool LooksLikeRefusal(string response);

    /// <summary>What the world never trained on: the held-out evaluation sets.</summary>
    HeldOutSets HeldOut();
}
