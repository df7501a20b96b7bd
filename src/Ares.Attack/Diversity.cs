namespace Ares.RedTeam.Attack;

/// <summary>How varied a set of prompts is: lower mean cosine and higher distinct-n are more diverse.</summary>
internal sealed record DiversityReport(int Prompts, double MeanPairwiseCosine, double Distinct1, double Distinct2, double Distinct3);

/// <summary>
/// Diversity measures of the GFlowNet red-teaming paper (Lee et al. 2025, §5): the mean pairwise
/// cosine similarity of prompt embeddings, and distinct-n (Li et al. 2016) over word tokens.
/// </summary>
internal static class Diversity
{
    /// <summary>
    /// Mean of cos(u_i, u_j) over the N(N−1) ordered pairs i ≠ j. With every u normalised to unit
    /// length, Σ_{i≠j} u_i·u_j = ‖Σ u_i‖² − N, so this is O(N·d) rather than O(N²·d).
    /// A zero vector has no direction and is refused.
    /// </summary>
    public static double MeanPairwiseCosine(IReadOnlyList<float[]> embeddings)
    {
        int n = embeddings.Count;
        if (n < 2) throw new ArgumentException($"mean pairwise cosine needs at least 2 embeddings, got {n}");
        int d = embeddings[0].Length;
        var sum = new double[d];
        for (int i = 0; i < n; i++)
        {
            var e = embeddings[i];
            if (e.Length != d) throw new ArgumentException($"embedding {i} has dimension {e.Length}, expected {d}");
            double norm = Math.Sqrt(e.Sum(x => (double)x * x));
            if (!(norm > 0)) throw new ArgumentException($"embedding {i} has zero (or NaN) length; cosine is undefined");
            for (int k = 0; k < d; k++) sum[k] += e[k] / norm;
        }
        double total = sum.Sum(x => x * x);
        return (total - n) / ((double)n * (n - 1));
    }

    /// <summary>Lower-cased word tokens: runs of letters, digits and apostrophes (punctuation is not a word).</summary>
    public static IReadOnlyList<string> Words(string text)
    {
        var words = new List<string>();
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool inWord = i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '\'');
            if (inWord && start < 0) start = i;
            else if (!inWord && start >= 0) { words.Add(text[start..i].ToLowerInvariant()); start = -1; }
        }
        return words;
    }

    /// <summary>
    /// distinct-n: unique n-grams / total n-grams over all texts (n-grams do not cross texts).
    /// 0 when no text has n words.
    /// </summary>
    public static double DistinctN(IReadOnlyList<string> texts, int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"n must be ≥ 1, got {n}");
        var unique = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        foreach (var text in texts)
        {
            var w = Words(text);
            for (int i = 0; i + n <= w.Count; i++)
            {
                unique.Add(string.Join('\u0001', w.Skip(i).Take(n)));
                total++;
            }
        }
        return total == 0 ? 0 : (double)unique.Count / total;
    }

    /// <summary>All four measures; embeddings are those of <paramref name="prompts"/>, in order.</summary>
    public static DiversityReport Measure(IReadOnlyList<string> prompts, IReadOnlyList<float[]> embeddings)
    {
        if (embeddings.Count != prompts.Count) throw new ArgumentException($"{embeddings.Count} embeddings for {prompts.Count} prompts");
        return new DiversityReport(prompts.Count, prompts.Count < 2 ? double.NaN : MeanPairwiseCosine(embeddings),
            DistinctN(prompts, 1), DistinctN(prompts, 2), DistinctN(prompts, 3));
    }
}
