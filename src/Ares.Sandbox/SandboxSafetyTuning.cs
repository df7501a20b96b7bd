using Ares.RedTeam.Catalog;
using Ares.RedTeam.Judges;

namespace Ares.RedTeam.Sandbox;

/// <summary>What safety tuning (<see cref="Attack.SafetyTuning"/>) takes from a sandbox world: its benign retention mix and its refusal test.</summary>
internal static class SandboxSafetyTuning
{
    /// <summary>
    /// A sandbox world's benign retention pairs, weighted toward what refusal training spills over to:
    /// requests wrapped in an attack tactic's template and sensitive-looking ones ("a killer first
    /// impression"). The corpus's training requests of those kinds, plus <paramref name="wrapped"/> freshly
    /// wrapped everyday and sensitive-looking training items (seeded), plus as many plain everyday ones.
    /// Without the wrapped contrast a tuned target learns "tactic wording → refuse" and refuses the
    /// wrapped half of the over-refusal set. Held-out sensitive items (the over-refusal file) never appear.
    /// Policy repair's mix (<see cref="SandboxCorpus.RepairBenign"/>) shares the look-alike part; safety
    /// tuning adds the freshly wrapped items and as many plain ones as look-alikes (the mix its
    /// over-refusal numbers in README.md were measured with).
    /// </summary>
    public static IReadOnlyList<(string Prompt, string Response)> Benign(SandboxCorpus corpus, ComponentCatalog catalog, int wrapped = 200, long seed = 42)
    {
        var heldOut = corpus.SensitiveHeldOut.Select(b => b.Answer).ToHashSet(StringComparer.Ordinal);
        var sensitiveItems = EverydayRequests.SensitiveLooking.Where(item => !heldOut.Contains(item.Answer)).ToArray();
        var composer = new BenignComposer(catalog, wrappedShare: 1.0);
        var rng = new Random(unchecked((int)seed) ^ 0x7e7a1);
        var fresh = Enumerable.Range(0, wrapped).Select(i => composer.Wrapped(i % 2 == 0
            ? sensitiveItems[rng.Next(sensitiveItems.Length)]
            : EverydayRequests.Sample(EverydayRequests.Topics[rng.Next(EverydayRequests.Topics.Length)], rng), rng));
        // Wrapped look-alikes first, then plain sensitive ones (a stable sort): the order this mix was measured with.
        var weighted = corpus.LookalikeBenign().OrderBy(b => b.Tactic is null).Concat(fresh).ToList();
        var plain = corpus.BenignTrain.Where(b => b.Tactic is null).Take(weighted.Count);
        return weighted.Concat(plain).Select(b => (b.Prompt, b.Answer)).DistinctBy(b => b.Prompt).ToList();
    }

    /// <summary>The sandbox's refusal test: its catalog's refusal openings or any <see cref="RefusalJudge"/> phrase (the tuned target's refusals use the latter).</summary>
    public static Func<string, bool> IsRefusal(SandboxCorpus corpus) =>
        r => corpus.LooksLikeRefusal(r) || RefusalJudge.FindRefusal(r) is not null;
}
