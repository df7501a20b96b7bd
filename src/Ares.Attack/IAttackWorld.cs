using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Attack;

/// <summary>
/// A world of models (<see cref="IModelWorld"/>) that also holds what an attack and safety tuning take from it
/// by default: the attacker's seed prompts, a benign retention mix, held-out sensitive-looking prompts and the
/// world's refusal test. Implemented by the sandbox layer above; the attacker never names it.
/// </summary>
internal interface IAttackWorld : IModelWorld
{
    /// <summary>Seed prompts (JSONL) the attacker's SFT warm-up reads.</summary>
    string AttackSeedsPath { get; }

    /// <summary>Held-out sensitive-looking benign prompts (JSONL): the over-refusal check.</summary>
    string OverRefusalPromptsPath { get; }

    /// <summary>Benign (prompt, response) pairs safety tuning mixes in so the target keeps answering (seeded).</summary>
    IReadOnlyList<(string Prompt, string Response)> SafetyBenign(long seed);

    /// <summary>Whether a response is a refusal, as this world's models phrase them.</summary>
    bool IsRefusal(string response);
}
