using System.Text;

namespace Ares.Core.Tokenization;

/// <summary>
/// SentencePiece BPE by piece scores, as llama.cpp's llm_tokenizer_spm runs it for GGUF <c>llama</c> vocabularies:
/// start from the UTF-8 characters and repeatedly merge the adjacent pair whose concatenation is a vocabulary piece
/// with the highest score (leftmost first among equals); characters left over that are not pieces become byte
/// tokens <c>&lt;0xNN&gt;</c> (or unk when the vocabulary lacks them).
/// </summary>
internal sealed class SentencePieceBpe
{
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _pieces;
    readonly IReadOnlyList<float> _scores;
    readonly int[] _byteIds;

    public SentencePieceBpe(Dictionary<string, int> pieces, IReadOnlyList<float> scores, int? unkId)
    {
        _pieces = pieces.GetAlternateLookup<ReadOnlySpan<char>>();
        _scores = scores;
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++) _byteIds[b] = pieces.TryGetValue($"<0x{b:X2}>", out int id) ? id : unkId ?? -1;
    }

    /// <summary>Highest score first, then leftmost (llama.cpp's llm_bigram_spm comparator).</summary>
    sealed class BigramOrder : IComparer<(float Score, int Left)>
    {
        public static readonly BigramOrder Instance = new();
        public int Compare((float Score, int Left) a, (float Score, int Left) b) =>
            a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left.CompareTo(b.Left);
    }

    /// <summary>Appends the ids of <paramref name="text"/> (spaces already replaced by ▁).</summary>
    public void Encode(string text, List<int> output)
    {
        // Symbols are contiguous runs of text: start, length (UTF-16), and a doubly linked list of survivors.
        var start = new List<int>(text.Length);
        var length = new List<int>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int n = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            start.Add(i); length.Add(n);
            i += n;
        }
        int count = start.Count;
        if (count == 0) return;
        var prev = new int[count];
        var next = new int[count];
        for (int i = 0; i < count; i++) { prev[i] = i - 1; next[i] = i + 1 < count ? i + 1 : -1; }

        var queue = new PriorityQueue<(int Left, int Right, int Size), (float, int)>(BigramOrder.Instance);
        void TryAdd(int left, int right)
        {
            if (left < 0 || right < 0) return;
            int size = length[left] + length[right];
            if (_pieces.TryGetValue(text.AsSpan(start[left], size), out int id) && id < _scores.Count)
                queue.Enqueue((left, right, size), (_scores[id], left));
        }
        for (int i = 1; i < count; i++) TryAdd(i - 1, i);
        while (queue.TryDequeue(out var bigram, out _))
        {
            var (left, right, size) = bigram;
            // Stale: one side has merged since (symbols only grow, so the size tells).
            if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != size) continue;
            length[left] = size;
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            TryAdd(prev[left], left);
            TryAdd(left, next[left]);
        }

        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i >= 0; i = next[i])
        {
            var piece = text.AsSpan(start[i], length[i]);
            if (_pieces.TryGetValue(piece, out int id)) { output.Add(id); continue; }
            int n = Encoding.UTF8.GetBytes(piece, utf8); // an unmerged symbol is a single character
            for (int b = 0; b < n; b++)
                output.Add(_byteIds[utf8[b]] >= 0 ? _byteIds[utf8[b]] : throw new InvalidOperationException($"the vocabulary has neither byte token <0x{utf8[b]:X2}> nor an unk token"));
        }
    }
}
