using System.Text.Json;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Repair;

namespace Ares.RedTeam.Sandbox;

/// <summary>
/// A sandbox world's repair data (from its data directory). Retention = its benign training pairs
/// only: its harmful training pairs include the deliberately flipped blind-tactic pairs (malicious
/// chosen), and mixing those back would re-teach the blind spot. Held-out safety pairs come from
/// harmful_heldout.jsonl in the correct orientation (safe ≻ malicious); held-out retention = the
/// benign rows of reward_pairs_heldout.jsonl.
/// </summary>
internal sealed record SandboxRepairData(IReadOnlyList<TextPreference> Retention, IReadOnlyList<TextPreference> SafetyHeldOut, IReadOnlyList<TextPreference> RetentionHeldOut)
{
    public const string BenignKind = "benign";

    public static SandboxRepairData Read(string dataDir) => new(
        RepairPreferences.ReadPairs(Path.Combine(dataDir, SandboxData.RewardPairsTrain), BenignKind),
        RepairPreferences.ReadHarmfulCases(Path.Combine(dataDir, SandboxData.HarmfulHeldOut)),
        RepairPreferences.ReadPairs(Path.Combine(dataDir, SandboxData.RewardPairsHeldOut), BenignKind));

    /// <summary>
    /// Benign training prompts of a sandbox world (<see cref="SandboxCorpus.RepairBenign"/>: weighted
    /// toward tactic-wrapped and sensitive-looking requests), rebuilt from the world's spec
    /// (deterministic). data/benign_heldout.jsonl and overrefusal_heldout.jsonl are disjoint from
    /// these and stay for evaluation.
    /// </summary>
    public static IReadOnlyList<string> BenignPrompts(SandboxWorld world, ComponentCatalog? catalog = null) =>
        BenignPrompts(SandboxCorpus.Build(world.Spec, catalog ?? ComponentCatalog.Default()));

    /// <summary>The same, from a corpus the caller already rebuilt.</summary>
    public static IReadOnlyList<string> BenignPrompts(SandboxCorpus corpus) =>
        [.. corpus.RepairBenign().Select(b => b.Prompt)];

    /// <summary>
    /// <see cref="BenignPrompts(SandboxCorpus)"/> split for checkpoint selection: <paramref name="validationCount"/>
    /// lookalikes (sensitive-looking or tactic-wrapped; seeded pick) held out of training as validation, the
    /// rest to train on. Both come from the corpus's training side, so the over-refusal evaluation set stays unseen.
    /// </summary>
    public static (IReadOnlyList<string> Train, IReadOnlyList<string> Validation) BenignSplit(SandboxCorpus corpus, int validationCount, long seed)
    {
        var pool = corpus.RepairBenign();
        var lookalike = pool.Where(b => b.Tactic is not null || corpus.SensitiveTrain.Contains(b)).Select(b => b.Prompt).ToArray();
        if (validationCount < 1 || validationCount > lookalike.Length / 2)
            throw new ArgumentException($"validation lookalikes: {validationCount} requested, must be in [1, {lookalike.Length / 2}] (half of the {lookalike.Length} available) to leave training data");
        new Random(unchecked((int)seed)).Shuffle(lookalike);
        var validation = lookalike[..validationCount].ToHashSet(StringComparer.Ordinal);
        return ([.. pool.Select(b => b.Prompt).Where(p => !validation.Contains(p))], [.. lookalike[..validationCount]]);
    }

    /// <summary>The sandbox's held-out harmful cases as mentor cases (tuple, prompt, malicious, safe).</summary>
    public static IReadOnlyList<MentorCase> ReadHeldOutCases(string path) =>
        [.. JsonlRows.Read(path, "held-out case file").Select(r =>
        {
            string F(string name) => r.Json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()! : throw new FormatException($"{r.Where}: field '{name}' must be a string");
            return new MentorCase(new ComponentTuple(F("topic"), F("persona"), F("tactic"), F("goal")), F("prompt"), F("malicious"), F("safe"));
        })];
}
