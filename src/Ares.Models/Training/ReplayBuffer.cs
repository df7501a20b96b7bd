using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ares.Models.Training;

/// <summary>
/// The two terms of the red-teaming log-reward, kept so a replayed object can be re-scored under the
/// current γ and reward-temperature schedule: <see cref="PriorLogProb"/> = log p_ref(x) and
/// <see cref="TaskLogReward"/> = mean_k log p_harm(y_k | x) (any task's log-reward in general).
/// </summary>
internal sealed record RewardTerms(double PriorLogProb, double TaskLogReward);

/// <summary>
/// One object in the replay buffer: its text, token ids, log-reward at insertion (its priority), an
/// optional embedding for near-duplicate detection and the optional reward terms it was scored with.
/// </summary>
internal sealed record ReplayEntry(string Text, int[] TokenIds, double LogReward, float[]? Embedding = null, RewardTerms? Terms = null);

/// <summary>
/// The GFlowNet's prioritised replay buffer (Lee et al. 2024, as in their public code): at most
/// <see cref="Capacity"/> entries, keeping the highest log-rewards (the lowest is evicted first, a
/// min-heap's semantics); exact duplicates (same token ids or same text) are rejected; near
/// duplicates — embedding cosine above <see cref="SimilarityThreshold"/>, or normalised token edit
/// distance below <see cref="EditDistanceThreshold"/> — keep only the better one. Sampling is with
/// replacement, proportional to softmax(log-reward), from a caller-seeded <see cref="Random"/> so that
/// a resumed run draws what an uninterrupted one would. Linear scans: capacities are thousands.
/// </summary>
internal sealed class ReplayBuffer
{
    readonly List<ReplayEntry> _entries = [];

    /// <param name="capacity">Maximum entries (the paper: 1,000–5,000).</param>
    /// <param name="similarityThreshold">Embedding cosine above which two entries are near duplicates (the paper's 0.4).</param>
    /// <param name="editDistanceThreshold">Levenshtein distance over token ids / the longer length below which two entries are near duplicates; 0 turns it off.</param>
    public ReplayBuffer(int capacity, double similarityThreshold = 0.4, double editDistanceThreshold = 0.1)
    {
        if (capacity < 1) throw new ArgumentException($"replay buffer capacity must be ≥ 1, got {capacity}");
        if (!(similarityThreshold is > -1 and <= 1)) throw new ArgumentException($"replay buffer similarity threshold must be in (−1, 1], got {similarityThreshold}");
        if (!(editDistanceThreshold is >= 0 and <= 1)) throw new ArgumentException($"replay buffer edit-distance threshold must be in [0, 1], got {editDistanceThreshold}");
        Capacity = capacity;
        SimilarityThreshold = similarityThreshold;
        EditDistanceThreshold = editDistanceThreshold;
    }

    public int Capacity { get; }
    public double SimilarityThreshold { get; }
    public double EditDistanceThreshold { get; }
    public int Count => _entries.Count;
    public IReadOnlyList<ReplayEntry> Entries => _entries;

    /// <summary>
    /// Adds <paramref name="entry"/> unless it is an exact duplicate, a near duplicate of an entry at
    /// least as good, or below the minimum of a full buffer. Near duplicates it beats are removed.
    /// Returns whether it was added.
    /// </summary>
    public bool Add(ReplayEntry entry)
    {
        if (!double.IsFinite(entry.LogReward)) throw new ArgumentException($"replay entry '{entry.Text}': log-reward must be finite, got {entry.LogReward}");
        var near = new List<int>();
        for (int i = 0; i < _entries.Count; i++)
        {
            var e = _entries[i];
            if (e.Text == entry.Text || e.TokenIds.AsSpan().SequenceEqual(entry.TokenIds)) return false;
            if (!IsNearDuplicate(e, entry)) continue;
            if (e.LogReward >= entry.LogReward) return false;
            near.Add(i);
        }
        for (int j = near.Count - 1; j >= 0; j--) _entries.RemoveAt(near[j]);
        if (_entries.Count >= Capacity)
        {
            int min = IndexOfMin();
            if (_entries[min].LogReward >= entry.LogReward) return false;
            _entries.RemoveAt(min);
        }
        _entries.Add(entry);
        return true;
    }

    /// <summary><paramref name="count"/> entries drawn with replacement with probability softmax(log-reward).</summary>
    public IReadOnlyList<ReplayEntry> Sample(int count, Random rng)
    {
        if (_entries.Count == 0) throw new InvalidOperationException("cannot sample from an empty replay buffer");
        double max = _entries.Max(e => e.LogReward);
        var cumulative = new double[_entries.Count];
        double total = 0;
        for (int i = 0; i < _entries.Count; i++) cumulative[i] = total += Math.Exp(_entries[i].LogReward - max);  // shift by max: no overflow
        var picked = new ReplayEntry[count];
        for (int n = 0; n < count; n++)
        {
            int i = Array.BinarySearch(cumulative, rng.NextDouble() * total);
            picked[n] = _entries[Math.Min(i < 0 ? ~i : i, _entries.Count - 1)];
        }
        return picked;
    }

    bool IsNearDuplicate(ReplayEntry a, ReplayEntry b)
    {
        if (a.Embedding is not null && b.Embedding is not null && Cosine(a.Embedding, b.Embedding) > SimilarityThreshold) return true;
        return EditDistanceThreshold > 0 && NormalisedEditDistance(a.TokenIds, b.TokenIds) < EditDistanceThreshold;
    }

    int IndexOfMin()
    {
        int min = 0;
        for (int i = 1; i < _entries.Count; i++) if (_entries[i].LogReward < _entries[min].LogReward) min = i;
        return min;
    }

    public static double Cosine(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"embeddings differ in length: {a.Length} vs {b.Length}");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    /// <summary>Levenshtein distance between token sequences divided by the longer length (0 = equal, 1 = nothing shared).</summary>
    public static double NormalisedEditDistance(int[] a, int[] b)
    {
        int n = Math.Max(a.Length, b.Length);
        if (n == 0) return 0;
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return (double)previous[b.Length] / n;
    }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Writes the entries as JSON (in insertion order, so a restored buffer samples identically).</summary>
    public void Save(string path)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(_entries, Json));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Replaces the entries with those saved by <see cref="Save"/> (restored as saved, not re-filtered).</summary>
    public void Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: replay buffer not found", path);
        List<ReplayEntry>? entries;
        try { entries = JsonSerializer.Deserialize<List<ReplayEntry>>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a replay buffer ({e.Message})", e); }
        if (entries is null || entries.Any(e => e is null || e.Text is null || e.TokenIds is null))
            throw new InvalidDataException($"{path}: not a replay buffer (expected a JSON array of entries with Text and TokenIds)");
        if (entries.Count > Capacity) throw new InvalidDataException($"{path}: {entries.Count} entries exceed the capacity of {Capacity}");
        _entries.Clear();
        _entries.AddRange(entries);
    }
}
