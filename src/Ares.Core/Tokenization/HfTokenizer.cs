using System.Text.Json;
using Ares.Core.Formats;

namespace Ares.Core.Tokenization;

/// <summary>
/// A Hugging Face tokenizer driven by its tokenizer.json (BPE model, byte-level or SentencePiece-style) and, when
/// present, tokenizer_config.json (special tokens, add_bos/add_eos, chat template).
/// </summary>
/// <remarks>
/// Encoding follows the tokenizers library step by step: added tokens with <c>normalized: false</c> are cut out of
/// the raw text; each remaining segment is normalized; added tokens with <c>normalized: true</c> are cut out of that;
/// the pre-tokenizer splits the rest into pre-tokens; the model encodes each; the post-processor adds its special
/// tokens. Every component type this class does not implement fails loading with a <see cref="NotSupportedException"/>
/// naming the file and JSON path, rather than tokenizing differently. Decoding does not apply transformers'
/// <c>clean_up_tokenization_spaces</c>, so text survives a round trip.
/// </remarks>
internal sealed class HfTokenizer : ITokenizer
{
    readonly BpeModel _model;
    readonly string?[] _vocabById;
    readonly Dictionary<int, AddedToken> _addedById;
    readonly Dictionary<string, AddedToken> _addedByContent;
    readonly AddedTokenMatcher _rawMatcher, _normalizedMatcher;
    readonly Normalizer? _normalizer;
    readonly PreTokenizer? _preTokenizer;
    readonly Decoder? _decoder;
    readonly int[] _prefix, _suffix; // what the post-processor puts around a single sequence

    public string Kind { get; }
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    public IReadOnlySet<int> StopIds { get; }
    public string? ChatTemplate { get; }

    HfTokenizer(JsonAt root, JsonAt? config, string? jinjaTemplate)
    {
        var model = root.Req("model");
        string type = model.OptStr("type") ?? (model.Opt("merges") != null ? "BPE" : throw model.Malformed("'type' is missing"));
        if (type != "BPE") throw model.Unsupported($"model type '{type}' (Ares implements BPE)");
        if (model.Opt("dropout") is { } dropout && dropout.Value.GetDouble() != 0) throw dropout.Unsupported("BPE dropout");
        var options = new BpeOptions(
            ByteFallback: model.Bool("byte_fallback", false), UnkToken: model.OptStr("unk_token"), FuseUnk: model.Bool("fuse_unk", false),
            IgnoreMerges: model.Bool("ignore_merges", false), ContinuingSubwordPrefix: model.OptStr("continuing_subword_prefix"),
            EndOfWordSuffix: model.OptStr("end_of_word_suffix"));
        var vocab = ReadVocab(model.Req("vocab"));
        try { _model = new BpeModel(vocab, ReadMerges(model.Req("merges")), options); }
        catch (ArgumentException e) { throw model.Malformed(e.Message); }

        _addedById = [];
        foreach (var t in root.Opt("added_tokens")?.Items() ?? [])
        {
            var token = new AddedToken(t.Req("id").Int(), t.Str("content"), t.Bool("special", false), t.Bool("lstrip", false),
                t.Bool("rstrip", false), t.Bool("single_word", false), t.Bool("normalized", true));
            if (token.Id < 0) throw t.Malformed($"id {token.Id} is negative");
            _addedById[token.Id] = token;
        }
        _addedByContent = _addedById.Values.GroupBy(a => a.Content).ToDictionary(g => g.Key, g => g.First());
        _normalizer = Normalizers.FromJson(root.Opt("normalizer"));
        _preTokenizer = PreTokenizers.FromJson(root.Opt("pre_tokenizer"));
        _decoder = Decoders.FromJson(root.Opt("decoder"));
        _rawMatcher = new AddedTokenMatcher(_addedById.Values.Where(a => !a.Normalized).Select(a => (a.Content, a)));
        _normalizedMatcher = new AddedTokenMatcher(_addedById.Values.Where(a => a.Normalized).Select(a => (_normalizer?.Invoke(a.Content) ?? a.Content, a)));

        int size = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, _addedById.Count == 0 ? 0 : _addedById.Keys.Max() + 1);
        _vocabById = new string?[size];
        foreach (var (token, id) in vocab) _vocabById[id] = token;
        VocabSize = size;
        (_prefix, _suffix) = PostProcessor(root.Opt("post_processor"));

        string preTokenizerJson = root.Opt("pre_tokenizer")?.Value.GetRawText() ?? "";
        Kind = "hf BPE" + (preTokenizerJson.Contains("\"ByteLevel\"", StringComparison.Ordinal) ? ", byte-level" : "")
            + (options.ByteFallback ? ", SentencePiece-style with byte fallback" : "");

        if (config is { } c)
        {
            BosId = ConfigToken(c, "bos_token");
            EosId = ConfigToken(c, "eos_token");
            PadId = ConfigToken(c, "pad_token");
            // transformers rebuilds the Llama-style template from these flags: [BOS] $A [EOS].
            if (c.Opt("add_bos_token") != null) _prefix = Toggle(_prefix, BosId, c.Bool("add_bos_token", false), atStart: true);
            if (c.Opt("add_eos_token") != null) _suffix = Toggle(_suffix, EosId, c.Bool("add_eos_token", false), atStart: false);
            ChatTemplate = ReadChatTemplate(c);
        }
        ChatTemplate ??= jinjaTemplate;
        StopIds = TokenizerConventions.StopIds(EosId, TokenToId);
    }

    /// <summary>
    /// Loads a tokenizer from a model directory (tokenizer.json, optional tokenizer_config.json and chat_template.jinja)
    /// or from the path of a tokenizer.json.
    /// </summary>
    public static HfTokenizer Load(string directoryOrTokenizerJsonPath)
    {
        string jsonPath = Directory.Exists(directoryOrTokenizerJsonPath) ? Path.Combine(directoryOrTokenizerJsonPath, "tokenizer.json") : directoryOrTokenizerJsonPath;
        if (!File.Exists(jsonPath)) throw new FileNotFoundException($"{jsonPath}: tokenizer file not found", jsonPath);
        string dir = Path.GetDirectoryName(Path.GetFullPath(jsonPath))!;
        string configPath = Path.Combine(dir, "tokenizer_config.json"), jinjaPath = Path.Combine(dir, "chat_template.jinja");
        var root = JsonAt.Parse(jsonPath, File.ReadAllBytes(jsonPath));
        var config = File.Exists(configPath) ? JsonAt.Parse(configPath, File.ReadAllBytes(configPath)) : (JsonAt?)null;
        try { return new HfTokenizer(root, config, File.Exists(jinjaPath) ? File.ReadAllText(jinjaPath) : null); }
        catch (InvalidOperationException e) { throw new ModelFormatException($"{jsonPath}: unexpected JSON value: {e.Message}", e); }
    }

    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens) ids.AddRange(_prefix);
        var raw = new List<TextSegment>();
        var normalized = new List<TextSegment>();
        var pieces = new List<Piece>();
        _rawMatcher.Split(text, raw);
        foreach (var segment in raw)
        {
            if (segment.Token != null) { ids.Add(segment.Token.Id); continue; }
            normalized.Clear();
            _normalizedMatcher.Split(_normalizer?.Invoke(segment.Text) ?? segment.Text, normalized);
            foreach (var part in normalized)
            {
                if (part.Token != null) { ids.Add(part.Token.Id); continue; }
                var piece = new Piece(part.Text, AtStart: segment.Start == 0 && part.Start == 0);
                if (_preTokenizer == null) { _model.Encode(piece.Text, ids); continue; }
                pieces.Clear();
                _preTokenizer(piece, pieces);
                foreach (var p in pieces) _model.Encode(p.Text, ids);
            }
        }
        if (addSpecialTokens) ids.AddRange(_suffix);
        return [.. ids];
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = new List<string>(ids.Count);
        foreach (int id in ids)
        {
            if (_addedById.TryGetValue(id, out var added)) { if (!(skipSpecialTokens && added.Special)) tokens.Add(added.Content); }
            else if ((uint)id < (uint)_vocabById.Length && _vocabById[id] is { } token) tokens.Add(token);
            // An id with no token (e.g. a padding row of a larger embedding matrix) is dropped, as Hugging Face does.
        }
        return _decoder == null ? string.Join(' ', tokens) : string.Concat(_decoder(tokens));
    }

    public string IdToToken(int id) =>
        _addedById.TryGetValue(id, out var added) ? added.Content
        : (uint)id < (uint)_vocabById.Length && _vocabById[id] is { } token ? token
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"no token has id {id} (vocabulary size {VocabSize})");

    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out var added) ? added.Id : _model.Vocab.TryGetValue(token, out int id) ? id : null;

    public bool IsSpecial(int id) => _addedById.TryGetValue(id, out var added) && added.Special;

    static Dictionary<string, int> ReadVocab(JsonAt vocab)
    {
        if (vocab.Value.ValueKind != JsonValueKind.Object) throw vocab.Malformed("expected an object of token → id");
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocab.Value.EnumerateObject()) // read raw: 150k entries, paths only built for errors
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                throw vocab.Malformed($"token '{p.Name}' has id {p.Value.GetRawText()}, expected a non-negative integer");
            result[p.Name] = id;
        }
        return result;
    }

    /// <summary>Merges as "left right" strings (the older form) or ["left", "right"] pairs (which allow spaces in tokens).</summary>
    static List<(string, string)> ReadMerges(JsonAt merges)
    {
        if (merges.Value.ValueKind != JsonValueKind.Array) throw merges.Malformed("expected an array");
        var result = new List<(string, string)>(merges.Value.GetArrayLength());
        foreach (var m in merges.Value.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.String && m.GetString()!.Split(' ') is [var a, var b]) result.Add((a, b));
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                result.Add((m[0].GetString()!, m[1].GetString()!));
            else throw merges.Malformed($"merge #{result.Count} {m.GetRawText()} is neither \"a b\" nor [\"a\", \"b\"]");
        }
        return result;
    }

    /// <summary>The ids a post-processor puts before and after a single sequence.</summary>
    (int[] Prefix, int[] Suffix) PostProcessor(JsonAt? json)
    {
        if (json is not { } j) return ([], []);
        switch (j.Type)
        {
            case "ByteLevel": return ([], []); // only adjusts offsets
            case "Sequence":
                var parts = j.Req("processors").Items().Select(p => PostProcessor(p)).ToList();
                return ([.. parts.AsEnumerable().Reverse().SelectMany(p => p.Prefix)], [.. parts.SelectMany(p => p.Suffix)]);
            case "RobertaProcessing" or "BertProcessing":
                return ([SpecialPair(j.Req("cls"))], [SpecialPair(j.Req("sep"))]);
            case "TemplateProcessing":
                var specials = j.Req("special_tokens");
                List<int> prefix = [], suffix = [];
                bool seenSequence = false;
                foreach (var item in j.Req("single").Items())
                {
                    if (item.Opt("Sequence") is { } seq)
                    {
                        if (seq.Str("id") != "A" || seenSequence) throw seq.Malformed("a single-sequence template must contain sequence A once");
                        seenSequence = true;
                    }
                    else if (item.Opt("SpecialToken") is { } st)
                    {
                        string name = st.Str("id");
                        var ids = (specials.Opt(name) ?? throw st.Malformed($"special token '{name}' is not in special_tokens")).Req("ids").Items().Select(i => i.Int());
                        (seenSequence ? suffix : prefix).AddRange(ids);
                    }
                    else throw item.Malformed("template piece must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
                }
                return ([.. prefix], [.. suffix]);
            case var other:
                throw j.Unsupported($"post-processor type '{other}'");
        }
    }

    static int SpecialPair(JsonAt pair) =>
        pair.Items().ToArray() is [_, var id] ? id.Int() : throw pair.Malformed("expected [token, id]");

    /// <summary>Resolves bos_token / eos_token / pad_token (a string, {"content": ...}, or null) to an id.</summary>
    int? ConfigToken(JsonAt config, string key)
    {
        if (config.Opt(key) is not { } v) return null;
        string name = v.Value.ValueKind == JsonValueKind.Object ? v.Str("content") : v.Str();
        return TokenToId(name) ?? throw v.Malformed($"'{name}' is not in the vocabulary");
    }

    static int[] Toggle(int[] ids, int? token, bool wanted, bool atStart)
    {
        if (token is not int t) return ids;
        bool present = ids.Length > 0 && (atStart ? ids[0] : ids[^1]) == t;
        if (wanted == present) return ids;
        return wanted ? (atStart ? [t, .. ids] : [.. ids, t]) : (atStart ? ids[1..] : ids[..^1]);
    }

    /// <summary>chat_template as a string, or as a list of {name, template} from which "default" (else the first) is taken.</summary>
    static string? ReadChatTemplate(JsonAt config)
    {
        if (config.Opt("chat_template") is not { } t) return null;
        if (t.Value.ValueKind == JsonValueKind.String) return t.Str();
        var named = t.Items().Select(i => (Name: i.Str("name"), Template: i.Str("template"))).ToList();
        return named.FirstOrDefault(n => n.Name == "default").Template ?? named.FirstOrDefault().Template;
    }
}
