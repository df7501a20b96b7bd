using System.Collections.Concurrent;
using System.Text;

namespace Ares.Core.Tokenization;

/// <summary>Options of a rank-based BPE model, as tokenizer.json's "model" object names them.</summary>
internal sealed record BpeOptions(
    bool ByteFallback = false,        // characters missing from the vocabulary become their UTF-8 bytes as <0xNN> tokens
    string? UnkToken = null,          // otherwise they become this token (or are dropped when there is none)
    bool FuseUnk = false,             // consecutive unknowns become one unk token
    bool IgnoreMerges = false,        // a pre-token that is itself in the vocabulary is emitted whole (Llama 3)
    string? ContinuingSubwordPrefix = null,
    string? EndOfWordSuffix = null);

/// <summary>
/// Byte-pair encoding by merge rank (Sennrich et al. 2016, as GPT-2 and Hugging Face apply it): start from the
/// characters of one pre-token and repeatedly merge the adjacent pair whose merge comes first in the merges list,
/// leftmost first among equals. A priority queue keeps that O(n log n) on long words (SentencePiece-style
/// tokenizers without a pre-tokenizer hand over whole lines); results for short words are cached.
/// </summary>
internal sealed class BpeModel
{
    const int MaxCachedWordLength = 256, MaxCacheEntries = 100_000;

    readonly Dictionary<string, int> _vocab;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    readonly Dictionary<long, (int Rank, int NewId)> _merges = new(PairComparer.Instance);
    readonly int[]? _byteIds;
    readonly int? _unkId;
    readonly BpeOptions _options;
    readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    int _cacheCount;

    /// <exception cref="ArgumentException">A merge names a token that is not in the vocabulary (message says which).</exception>
    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, BpeOptions options)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _options = options;
        int prefixLength = options.ContinuingSubwordPrefix?.Length ?? 0;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            int Id(string token) => vocab.TryGetValue(token, out int id) ? id
                : throw new ArgumentException($"merge #{rank} '{left} {right}': '{token}' is not in the vocabulary");
            // With a continuing-subword prefix ("##"), "a ##b" merges into "a" + "b" without the prefix.
            string merged = left + (prefixLength > 0 && right.StartsWith(options.ContinuingSubwordPrefix!, StringComparison.Ordinal) ? right[prefixLength..] : right);
            _merges[Key(Id(left), Id(right))] = (rank, Id(merged)); // a repeated merge keeps its last rank, as in Hugging Face
        }
        if (options.ByteFallback)
        {
            _byteIds = new int[256];
            for (int b = 0; b < 256; b++) _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
        if (options.UnkToken != null)
            _unkId = vocab.TryGetValue(options.UnkToken, out int unk) ? unk : throw new ArgumentException($"unk_token '{options.UnkToken}' is not in the vocabulary");
    }

    static long Key(int left, int right) => (long)left << 32 | (uint)right;

    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>Appends the ids of one pre-token.</summary>
    public void Encode(string word, List<int> output)
    {
        if (word.Length == 0) return;
        if (_options.IgnoreMerges && _vocab.TryGetValue(word, out int whole)) { output.Add(whole); return; }
        if (_cache.TryGetValue(word, out var cached)) { output.AddRange(cached); return; }
        var ids = Merge(InitialSymbols(word));
        if (word.Length < MaxCachedWordLength && _cache.TryAdd(word, ids) && Interlocked.Increment(ref _cacheCount) >= MaxCacheEntries)
        {
            // A crude bound (ConcurrentDictionary.Count takes every lock, so entries are counted here instead).
            _cache.Clear();
            Interlocked.Exchange(ref _cacheCount, 0);
        }
        output.AddRange(ids);
    }

    /// <summary>One symbol per character (with prefix/suffix); unknown characters become byte tokens, unk, or nothing.</summary>
    List<int> InitialSymbols(string word)
    {
        var symbols = new List<int>(word.Length);
        int pendingUnk = -1;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int len = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var ch = word.AsSpan(i, len);
            bool first = i == 0, last = i + len == word.Length;
            i += len;
            int id;
            bool found = _options.ContinuingSubwordPrefix is null or "" && _options.EndOfWordSuffix is null or ""
                ? _vocabBySpan.TryGetValue(ch, out id)
                : _vocab.TryGetValue((first ? "" : _options.ContinuingSubwordPrefix) + ch.ToString() + (last ? _options.EndOfWordSuffix : ""), out id);
            if (found)
            {
                if (pendingUnk >= 0) { symbols.Add(pendingUnk); pendingUnk = -1; }
                symbols.Add(id);
                continue;
            }
            if (_byteIds != null)
            {
                int n = Encoding.UTF8.GetBytes(ch, utf8);
                bool all = true;
                for (int b = 0; b < n; b++) all &= _byteIds[utf8[b]] >= 0;
                if (all)
                {
                    if (pendingUnk >= 0) { symbols.Add(pendingUnk); pendingUnk = -1; }
                    for (int b = 0; b < n; b++) symbols.Add(_byteIds[utf8[b]]);
                    continue;
                }
            }
            if (_unkId is int unk)
            {
                if (pendingUnk >= 0 && !_options.FuseUnk) symbols.Add(pendingUnk);
                pendingUnk = unk;
            }
        }
        if (pendingUnk >= 0) symbols.Add(pendingUnk);
        return symbols;
    }

    [ThreadStatic] static PriorityQueue<(int Pos, int NewId), long>? t_queue;

    /// <summary>Hugging Face's Word::merge_all: lowest (rank, position) first; stale queue entries are skipped.</summary>
    int[] Merge(List<int> ids)
    {
        int n = ids.Count;
        if (n < 2) return [.. ids];
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        var queue = t_queue ??= new PriorityQueue<(int, int), long>();
        queue.Clear();
        for (int i = 0; i < n; i++)
        {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            alive[i] = true;
            if (i + 1 < n && _merges.TryGetValue(Key(ids[i], ids[i + 1]), out var m)) queue.Enqueue((i, m.NewId), Priority(m.Rank, i));
        }
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos, right = next[pos];
            if (!alive[pos] || right < 0) continue;
            if (!_merges.TryGetValue(Key(ids[pos], ids[right]), out var m) || m.NewId != top.NewId) continue; // pair changed since queued
            ids[pos] = m.NewId;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0 && _merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out var before))
                queue.Enqueue((prev[pos], before.NewId), Priority(before.Rank, prev[pos]));
            if (next[pos] >= 0 && _merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out var after))
                queue.Enqueue((pos, after.NewId), Priority(after.Rank, pos));
        }
        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i]) result.Add(ids[i]);
        return [.. result];
    }

    static long Priority(int rank, int pos) => (long)rank << 32 | (uint)pos;

    /// <summary>
    /// Hashes a (left, right) id pair. long's own hash XORs the halves, so (a, b), (b, a) and every pair with the
    /// same XOR collide — with 150k merges that made lookups ~50x slower.
    /// </summary>
    sealed class PairComparer : IEqualityComparer<long>
    {
        public static readonly PairComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> 32);
    }
}
