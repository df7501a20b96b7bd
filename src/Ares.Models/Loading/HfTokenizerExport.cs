using System.Text.Json.Nodes;
using Ares.Core.Tokenization;

namespace Ares.Models.Loading;

/// <summary>
/// Writes a GGUF tokenizer as HF tokenizer.json + tokenizer_config.json, so that a GGUF model
/// exported to an HF directory keeps its tokenizer. `llama` (SentencePiece BPE by scores) becomes a
/// BPE model with byte fallback whose merges are derived from the scores, as transformers'
/// SentencePieceExtractor does: a merge (a, b) exists for every vocabulary piece a+b whose halves
/// are pieces, ranked by the merged piece's score. Merging by that rank is SentencePiece's
/// "merge the highest-scoring adjacent pair". `gpt2` keeps its merges and split regex.
/// </summary>
internal static class HfTokenizerExport
{
    public static (JsonObject TokenizerJson, JsonObject TokenizerConfig) FromGguf(GgufTokenizer tokenizer, string? chatTemplate)
    {
        var d = tokenizer.Data;
        var types = d.TokenTypes ?? Enumerable.Repeat((int)GgufTokenType.Normal, d.Tokens.Count).ToList();
        var vocab = new JsonObject();
        for (int i = 0; i < d.Tokens.Count; i++) vocab[d.Tokens[i]] = i;
        var added = new JsonArray();
        for (int i = 0; i < d.Tokens.Count; i++)
            if (types[i] is (int)GgufTokenType.Control or (int)GgufTokenType.Unknown or (int)GgufTokenType.UserDefined)
                added.Add(new JsonObject
                {
                    ["id"] = i, ["content"] = d.Tokens[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                    ["normalized"] = false, ["special"] = types[i] != (int)GgufTokenType.UserDefined,
                });
        bool addBos = d.AddBos ?? d.Model == "llama";
        string? bos = d.BosId is int b ? d.Tokens[b] : null;
        string? eos = d.EosId is int e ? d.Tokens[e] : null;
        var json = new JsonObject { ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added };
        switch (d.Model)
        {
            case "llama":
                bool prefix = d.AddSpacePrefix ?? true;
                json["normalizer"] = new JsonObject
                {
                    ["type"] = "Sequence",
                    ["normalizers"] = new JsonArray(
                        prefix ? new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" } : null,
                        new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
                };
                if (!prefix) ((JsonArray)json["normalizer"]!["normalizers"]!).RemoveAt(0);
                json["pre_tokenizer"] = null;
                json["decoder"] = new JsonObject
                {
                    ["type"] = "Sequence",
                    ["decoders"] = new JsonArray(
                        new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
                        new JsonObject { ["type"] = "ByteFallback" },
                        new JsonObject { ["type"] = "Fuse" },
                        new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = prefix ? 1 : 0, ["stop"] = 0 }),
                };
                json["model"] = new JsonObject
                {
                    ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = d.UnkId is int u ? d.Tokens[u] : null,
                    ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null, ["fuse_unk"] = true,
                    ["byte_fallback"] = true, ["ignore_merges"] = false, ["vocab"] = vocab, ["merges"] = MergesFromScores(d, types),
                };
                break;
            case "gpt2":
                string pattern = (d.Pre ?? "default") switch
                {
                    "gpt2" or "gpt-2" => SplitPatterns.Gpt2,
                    "llama3" or "llama-bpe" => SplitPatterns.Llama3,
                    "qwen2" => SplitPatterns.Qwen2,
                    var p => throw new NotSupportedException($"{d.Source}: exporting a gpt2 tokenizer with tokenizer.ggml.pre = '{p}' to tokenizer.json is not supported (gpt2, llama3, qwen2)"),
                };
                json["normalizer"] = null;
                json["pre_tokenizer"] = new JsonObject
                {
                    ["type"] = "Sequence",
                    ["pretokenizers"] = new JsonArray(
                        new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                        new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
                };
                json["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false };
                json["model"] = new JsonObject
                {
                    ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                    ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                    ["vocab"] = vocab, ["merges"] = new JsonArray((d.Merges ?? []).Select(m => (JsonNode?)JsonValue.Create(m)).ToArray()),
                };
                break;
            default:
                throw new NotSupportedException($"{d.Source}: exporting tokenizer model '{d.Model}' is not supported");
        }
        json["post_processor"] = addBos && bos is not null
            ? new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special(bos), Seq("A")),
                ["pair"] = new JsonArray(Special(bos), Seq("A"), Special(bos), Seq("B")),
                ["special_tokens"] = new JsonObject { [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(d.BosId!.Value), ["tokens"] = new JsonArray(bos) } },
            }
            : null;
        var config = new JsonObject
        {
            ["tokenizer_class"] = d.Model == "llama" ? "LlamaTokenizerFast" : "PreTrainedTokenizerFast",
            ["add_bos_token"] = addBos, ["add_eos_token"] = d.AddEos ?? false,
            ["bos_token"] = bos, ["eos_token"] = eos, ["unk_token"] = d.UnkId is int uu ? d.Tokens[uu] : null,
            ["pad_token"] = d.PadId is int pp ? d.Tokens[pp] : null,
            ["clean_up_tokenization_spaces"] = false, ["legacy"] = false,
            ["model_max_length"] = 1_000_000,
        };
        if (chatTemplate is not null) config["chat_template"] = chatTemplate;
        return (json, config);
    }

    static JsonObject Special(string id) => new() { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };
    static JsonObject Seq(string id) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };

    static JsonArray MergesFromScores(GgufTokenizerData d, IReadOnlyList<int> types)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < d.Tokens.Count; i++)
            if (types[i] == (int)GgufTokenType.Normal) ids.TryAdd(d.Tokens[i], i);
        var scores = d.Scores ?? throw new NotSupportedException($"{d.Source}: tokenizer.ggml.scores is missing; cannot derive merges");
        var merges = new List<(float Score, int Left, int Right, string Text)>();
        foreach (var (piece, id) in ids)
        {
            var runes = piece.EnumerateRunes().Select(r => r.ToString()).ToArray();
            for (int k = 1; k < runes.Length; k++)
            {
                string left = string.Concat(runes[..k]), right = string.Concat(runes[k..]);
                if (ids.TryGetValue(left, out var l) && ids.TryGetValue(right, out var r))
                    merges.Add((scores[id], l, r, $"{left} {right}"));
            }
        }
        return new JsonArray(merges.OrderByDescending(m => m.Score).ThenBy(m => m.Left).ThenBy(m => m.Right)
            .Select(m => (JsonNode?)JsonValue.Create(m.Text)).ToArray());
    }
}
