using Ares.Models.Loading;
using Ares.Models.Training;

namespace Ares.RedTeam.Attack;

/// <summary>Which collected prompts MLE smoothing trains on.</summary>
internal sealed record SmoothingOptions
{
    /// <summary>The paper keeps prompts whose mean harm exceeds 0.7.</summary>
    public double MinHarm { get; init; } = 0.7;
    /// <summary>…and whose reference log-prob is "reasonable": above this floor (nats over the whole prompt), dropping degenerate text.</summary>
    public double MinRefLogProb { get; init; } = -120;
    /// <summary>Cross-entropy settings for the fresh copy of the SFT attacker.</summary>
    public SftConfig Sft { get; init; } = new() { LearningRate = 1e-4, MaxSteps = 200, WarmupSteps = 10, BatchSize = 16 };
}

/// <summary>
/// MLE smoothing (Lee et al. 2024, §3.2): the high-reward prompts a GFlowNet found in training,
/// deduplicated, become the SFT data of a fresh copy of the SFT attacker, which then samples them and
/// their neighbourhood more smoothly than the GFlowNet itself. Responsible for the selection and the
/// training; does not score anything.
/// </summary>
internal static class MleSmoothing
{
    /// <summary>Collected prompts above both thresholds, exact duplicates (after trimming) kept once with their best harm, best first.</summary>
    public static IReadOnlyList<CollectedPrompt> Select(IEnumerable<CollectedPrompt> collected, SmoothingOptions options) =>
        collected.Where(c => c.MeanHarm > options.MinHarm && c.RefLogProb > options.MinRefLogProb && c.Prompt.Trim().Length > 0)
            .GroupBy(c => c.Prompt.Trim(), StringComparer.Ordinal)
            .Select(g => g.MaxBy(c => c.MeanHarm)! with { Prompt = g.Key })
            .OrderByDescending(c => c.MeanHarm).ThenBy(c => c.Prompt, StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// Trains a fresh copy of <paramref name="sftAttackerDir"/> on the selected prompts and saves it as an HF
    /// directory at <paramref name="outDir"/>. Returns the prompts trained on; refuses an empty selection.
    /// </summary>
    public static IReadOnlyList<CollectedPrompt> Run(string sftAttackerDir, AttackerContext context, IEnumerable<CollectedPrompt> collected,
        SmoothingOptions options, string outDir, Action<int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        var selected = Select(collected, options);
        if (selected.Count == 0)
            throw new InvalidOperationException($"no collected prompt has mean harm > {options.MinHarm} and reference log-prob > {options.MinRefLogProb}: nothing to smooth on (train longer or lower the thresholds)");
        AttackerWarmup.Train(sftAttackerDir, [.. selected.Select(s => s.Prompt)], context, options.Sft, outDir, onStep);
        return selected;
    }
}
