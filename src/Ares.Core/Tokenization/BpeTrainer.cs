using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ares.Core.Tokenization;

/// <summary>What to learn: the total vocabulary size and which special tokens to reserve.</summary>
internal sealed record BpeTrainingOptions
{
    /// <summary>
    /// Ids in all: the 256 byte symbols, the learned merges and the special tokens. Training stops
    /// earlier when no pair occurs <see cref="MinFrequency"/> times.
    /// </summary>
    public int VocabSize { get; init; } = 1024;
    /// <summary>A pair seen fewer times than this is not merged (HF's BpeTrainer default is 0; 2 keeps one-off words apart).</summary>
    public int MinFrequency { get; init; } = 2;
    /// <summary>Added tokens (e.g. &lt;|im_start|&gt;), matched whole before pre-tokenization and never merged into.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = [];

    public void Validate()
    {
        if (VocabSize < 256 + SpecialTokens.Count) throw new ArgumentException($"vocab size {VocabSize} is below the 256 byte symbols + {SpecialTokens.Count} special tokens");
        if (MinFrequency < 1) throw new ArgumentException($"minimum pair frequency must be ≥ 1, got {MinFrequency}");
        if (SpecialTokens.Any(string.IsNullOrEmpty)) throw new ArgumentException("special tokens must be non-empty strings");
        if (SpecialTokens.Distinct(StringComparer.Ordinal).Count() != SpecialTokens.Count) throw new ArgumentException("special tokens must be distinct");
    }
}

/// <summary>The files' tokenizer_config.json settings: which special tokens play which role, and the chat template.</summary>
internal sealed record TokenizerFileOptions
{
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public string? PadToken { get; init; }
    /// <summary>Jinja chat template written as tokenizer_config.json "chat_template" (e.g. <see cref="ChatTemplates.ChatMLJinja"/>).</summary>
    public string? ChatTemplate { get; init; }
    public int ModelMaxLength { get; init; } = 1_000_000;
}

/// <summary>
/// A learned byte-level BPE: ids 0–255 are the byte symbols (in byte order), then one id per
/// merge in the order learned, then the special tokens. Written as GPT-2-style tokenizer.json
/// files that <see cref="HfTokenizer"/> and Hugging Face tokenizers read.
/// </summary>
internal sealed class TrainedBpe
{
    public required IReadOnlyList<string> Tokens { get; init; }
    public required IReadOnlyList<(string Left, string Right)> Merges { get; init; }
    public required IReadOnlyList<string> SpecialTokens { get; init; }

    public int VocabSize => Tokens.Count + SpecialTokens.Count;

    public int SpecialId(string token)
    {
        for (int i = 0; i < SpecialTokens.Count; i++)
            if (SpecialTokens[i] == token) return Tokens.Count + i;
        throw new ArgumentException($"'{token}' is not one of the special tokens ({string.Join(", ", SpecialTokens)})");
    }

    /// <summary>tokenizer.json: byte-level BPE with GPT-2's split regex, special tokens as added tokens.</summary>
    public JsonObject TokenizerJson()
    {
        var vocab = new JsonObject();
        for (int i = 0; i < Tokens.Count; i++) vocab[Tokens[i]] = i;
        var added = new JsonArray();
        for (int i = 0; i < SpecialTokens.Count; i++)
            added.Add(new JsonObject
            {
                ["id"] = Tokens.Count + i, ["content"] = SpecialTokens[i], ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        return new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added, ["normalizer"] = null,
            ["pre_tokenizer"] = BpeTrainer.PreTokenizerJson(),
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(Merges.Select(m => (JsonNode?)new JsonArray(m.Left, m.Right)).ToArray()),
            },
        };
    }

    /// <summary>tokenizer_config.json with the roles of the special tokens and the chat template.</summary>
    public JsonObject TokenizerConfig(TokenizerFileOptions o)
    {
        foreach (var t in new[] { o.BosToken, o.EosToken, o.PadToken })
            if (t is not null) SpecialId(t);
        var decoderTable = new JsonObject();
        for (int i = 0; i < SpecialTokens.Count; i++)
            decoderTable[$"{Tokens.Count + i}"] = new JsonObject
            {
                ["content"] = SpecialTokens[i], ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false, ["single_word"] = false, ["special"] = true,
            };
        var config = new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast", ["added_tokens_decoder"] = decoderTable,
            ["bos_token"] = o.BosToken, ["eos_token"] = o.EosToken, ["pad_token"] = o.PadToken, ["unk_token"] = null,
            ["clean_up_tokenization_spaces"] = false, ["model_max_length"] = o.ModelMaxLength,
        };
        if (o.ChatTemplate is not null) config["chat_template"] = o.ChatTemplate;
        return config;
    }

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="directory"/> (created if needed).</summary>
    public void Save(string directory, TokenizerFileOptions options)
    {
        Directory.CreateDirectory(directory);
        var indented = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), TokenizerJson().ToJsonString(indented));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), TokenizerConfig(options).ToJsonString(indented));
    }
}

/// <summary>
/// Learns byte-level BPE merges from a corpus (Sennrich et al. 2016, byte-level as in GPT-2):
/// split the text into pre-tokens exactly as the written tokenizer.json will, start every
/// pre-token from its UTF-8 bytes, and repeatedly merge the most frequent adjacent pair
/// (ties: the pair whose tokens sort first, ordinally, so training is deterministic). Pair counts
/// are updated only in the words that contain the merged pair.
/// </summary>
internal static class BpeTrainer
{
    /// <summary>The pre-tokenizer written to tokenizer.json and used in training: GPT-2's regex split, then the byte-level alphabet.</summary>
    public static JsonObject PreTokenizerJson() =>
        new() { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };

    public static TrainedBpe Train(IEnumerable<string> texts, BpeTrainingOptions options)
    {
        options.Validate();
        var preTokenizer = PreTokenizers.FromJson(JsonAt.Parse("pre_tokenizer",
            Encoding.UTF8.GetBytes(PreTokenizerJson().ToJsonString())))!;

        // Pre-token (in the byte-level alphabet) → frequency.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var pieces = new List<Piece>();
        foreach (var text in texts)
            foreach (var segment in SplitOnSpecials(text, options.SpecialTokens))
            {
                pieces.Clear();
                preTokenizer(new Piece(segment, AtStart: false), pieces);
                foreach (var p in pieces) counts[p.Text] = counts.GetValueOrDefault(p.Text) + 1;
            }

        var tokens = new List<string>(options.VocabSize);
        var charToId = new Dictionary<char, int>();
        for (int b = 0; b < 256; b++)
        {
            tokens.Add(ByteLevel.CharOf((byte)b).ToString());
            charToId[ByteLevel.CharOf((byte)b)] = b;
        }
        var words = counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key.Select(c => charToId[c]).ToArray()).ToList();
        var freq = counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToArray();

        var pairCount = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        for (int w = 0; w < words.Count; w++) AddPairs(w, +1);

        var merges = new List<(string, string)>();
        int target = options.VocabSize - options.SpecialTokens.Count;
        while (tokens.Count < target && pairCount.Count > 0)
        {
            long best = -1, bestCount = 0;
            foreach (var (pair, c) in pairCount)
                if (c > bestCount || (c == bestCount && ComparePairs(pair, best) < 0)) (best, bestCount) = (pair, c);
            if (bestCount < options.MinFrequency) break;
            int left = (int)(best >> 32), right = (int)(best & 0xFFFFFFFF), merged = tokens.Count;
            tokens.Add(tokens[left] + tokens[right]);
            merges.Add((tokens[left], tokens[right]));
            foreach (int w in pairWords[best].ToArray())
            {
                AddPairs(w, -1);
                words[w] = Merge(words[w], left, right, merged);
                AddPairs(w, +1);
            }
        }
        return new TrainedBpe { Tokens = tokens, Merges = merges, SpecialTokens = [.. options.SpecialTokens] };

        void AddPairs(int w, int sign)
        {
            var s = words[w];
            for (int i = 0; i + 1 < s.Length; i++)
            {
                long key = (long)s[i] << 32 | (uint)s[i + 1];
                long c = pairCount.GetValueOrDefault(key) + sign * (long)freq[w];
                if (c > 0)
                {
                    pairCount[key] = c;
                    if (sign > 0) (pairWords.TryGetValue(key, out var set) ? set : pairWords[key] = []).Add(w);
                }
                else { pairCount.Remove(key); pairWords.Remove(key); }
            }
        }

        int ComparePairs(long a, long b)
        {
            if (b < 0) return -1;
            int l = string.CompareOrdinal(tokens[(int)(a >> 32)], tokens[(int)(b >> 32)]);
            return l != 0 ? l : string.CompareOrdinal(tokens[(int)(a & 0xFFFFFFFF)], tokens[(int)(b & 0xFFFFFFFF)]);
        }
    }

    /// <summary>Replaces each non-overlapping (left, right), left to right, with <paramref name="merged"/>.</summary>
    static int[] Merge(int[] symbols, int left, int right, int merged)
    {
        var result = new List<int>(symbols.Length);
        for (int i = 0; i < symbols.Length; i++)
        {
            if (i + 1 < symbols.Length && symbols[i] == left && symbols[i + 1] == right) { result.Add(merged); i++; }
            else result.Add(symbols[i]);
        }
        return [.. result];
    }

    /// <summary>The text between occurrences of special tokens (which are matched whole at encode time, never merged).</summary>
    static IEnumerable<string> SplitOnSpecials(string text, IReadOnlyList<string> specials)
    {
        int start = 0;
        while (start < text.Length)
        {
            int at = -1, length = 0;
            foreach (var s in specials)
            {
                int i = text.IndexOf(s, start, StringComparison.Ordinal);
                if (i >= 0 && (at < 0 || i < at)) (at, length) = (i, s.Length);
            }
            if (at < 0) { yield return text[start..]; yield break; }
            if (at > start) yield return text[start..at];
            start = at + length;
        }
    }
}
