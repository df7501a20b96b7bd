using Ares.RedTeam.Mentor;

namespace Ares.RedTeam.Repair;

/// <summary>
/// The sets a world holds out of training for <see cref="HeldOutEvaluation"/>: harmful cases (probed), safety and
/// original preference pairs (the RM), benign and sensitive-looking benign prompts (capability, over-refusal).
/// </summary>
internal sealed record HeldOutSets(IReadOnlyList<MentorCase> Cases, IReadOnlyList<TextPreference> SafetyPairs, IReadOnlyList<TextPreference> RetentionPairs,
    IReadOnlyList<string> BenignPrompts, IReadOnlyList<string> SensitivePrompts);
