using System.Text;
using Ares.Core.Formats;

namespace Ares.Core.Tokenization;

/// <summary>llama.cpp's token types (<c>tokenizer.ggml.token_type</c>).</summary>
internal enum GgufTokenType { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

/// <summary>
/// The tokenizer part of a GGUF file's metadata, as plain data: <see cref="GgufTokenizer.FromGguf"/> fills it from
/// the <c>tokenizer.ggml.*</c> keys, and tests build it by hand. Null flags mean "the key is absent: use the default".
/// </summary>
internal sealed record GgufTokenizerData(string Model, IReadOnlyList<string> Tokens)
{
    public IReadOnlyList<float>? Scores { get; init; }
    public IReadOnlyList<int>? TokenTypes { get; init; }
    public IReadOnlyList<string>? Merges { get; init; }
    public string? Pre { get; init; }
    public int? BosId { get; init; }
    public int? EosId { get; init; }
    public int? UnkId { get; init; }
    public int? PadId { get; init; }
    public int? EotId { get; init; }
    public bool? AddBos { get; init; }
    public bool? AddEos { get; init; }
    public bool? AddSpacePrefix { get; init; }
    public string? ChatTemplate { get; init; }
    /// <summary>Where the data came from (the GGUF path), for error messages.</summary>
    public string Source { get; init; } = "GGUF metadata";
}

/// <summary>
/// The tokenizer stored in a GGUF file, implemented as llama.cpp implements it: <c>llama</c> (SentencePiece BPE by
/// scores with byte fallback; a space is prepended to text at the start and after each special token) or
/// <c>gpt2</c> (byte-level BPE by merge rank, split first by the regexes <c>tokenizer.ggml.pre</c> selects).
/// </summary>
/// <remarks>
/// Decoding turns ▁ into a space and byte tokens into raw bytes, assembles the bytes and reads them as UTF-8, and skips
/// control tokens when asked to. With <c>add_space_prefix</c> (llama's default) it also removes the one space that
/// prefix put before the first word: the first piece loses its leading space when nothing was output before it —
/// what SentencePiece, llama2.c ("drop the space after BOS") and Hugging Face's Strip decoder do.
/// </remarks>
internal sealed class GgufTokenizer : ITokenizer
{
    readonly GgufTokenizerData _data;
    readonly GgufTokenType[] _types;
    readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    readonly AddedTokenMatcher _specials;
    readonly SentencePieceBpe? _spm;
    readonly BpeModel? _bpe;
    readonly PreTokenizer? _preTokenizer;
    readonly bool _addBos, _addEos, _addSpacePrefix;

    public string Kind { get; }
    public int VocabSize => _data.Tokens.Count;
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    public IReadOnlySet<int> StopIds { get; }
    public string? ChatTemplate => _data.ChatTemplate;
    /// <summary>The metadata this tokenizer was built from (for export to tokenizer.json).</summary>
    public GgufTokenizerData Data => _data;

    GgufTokenizer(GgufTokenizerData d)
    {
        _data = d;
        string src = d.Source;
        int n = d.Tokens.Count;
        if (d.TokenTypes != null && d.TokenTypes.Count != n) throw new ModelFormatException($"{src}: tokenizer.ggml.token_type has {d.TokenTypes.Count} entries for {n} tokens");
        if (d.Scores != null && d.Scores.Count != n) throw new ModelFormatException($"{src}: tokenizer.ggml.scores has {d.Scores.Count} entries for {n} tokens");
        // Without types, <0xNN> pieces are still byte tokens (the SentencePiece convention).
        _types = d.TokenTypes?.Select(t => (GgufTokenType)t).ToArray()
            ?? d.Tokens.Select(t => Decoders.TryParseByteToken(t, out _) ? GgufTokenType.Byte : GgufTokenType.Normal).ToArray();
        for (int i = 0; i < n; i++) _ids[d.Tokens[i]] = i; // a repeated piece maps to its last id, as in llama.cpp

        int? Id(int? id) => id is int i && i >= 0 && i < n ? i : null; // absent, -1 or 0xFFFFFFFF: none
        BosId = Id(d.BosId); EosId = Id(d.EosId); PadId = Id(d.PadId);
        int? unk = Id(d.UnkId);

        switch (d.Model)
        {
            case "llama":
                _spm = new SentencePieceBpe(_ids, d.Scores ?? throw new ModelFormatException($"{src}: tokenizer.ggml.scores is required for tokenizer.ggml.model = 'llama'"), unk);
                _addBos = d.AddBos ?? true;
                _addSpacePrefix = d.AddSpacePrefix ?? true;
                Kind = "gguf llama (SentencePiece BPE by scores, byte fallback)";
                break;
            case "gpt2":
                var (patterns, isLlama3) = PreTokenizerFor(d.Pre, src);
                var merges = (d.Merges ?? throw new ModelFormatException($"{src}: tokenizer.ggml.merges is required for tokenizer.ggml.model = 'gpt2'"))
                    .Select((m, i) => m.Split(' ') is [var a, var b] ? (a, b) : throw new ModelFormatException($"{src}: tokenizer.ggml.merges[{i}] = '{m}' is not 'left right'"))
                    .ToList();
                try { _bpe = new BpeModel(_ids, merges, new BpeOptions(IgnoreMerges: isLlama3)); }
                catch (ArgumentException e) { throw new ModelFormatException($"{src}: tokenizer.ggml.merges: {e.Message}", e); }
                _preTokenizer = PreTokenizers.ByteLevelRegexes(patterns);
                _addBos = d.AddBos ?? isLlama3; // llama.cpp turns BOS on for the llama3 pre-tokenizer only
                Kind = $"gguf gpt2 (byte-level BPE, pre-tokenizer '{d.Pre ?? "default"}')";
                break;
            default:
                throw new NotSupportedException($"{src}: tokenizer.ggml.model = '{d.Model}' is not supported (Ares implements 'llama' and 'gpt2')");
        }
        _addEos = d.AddEos ?? false;
        if (_addBos && BosId == null) throw new ModelFormatException($"{src}: add_bos_token is on but tokenizer.ggml.bos_token_id is not set");
        if (_addEos && EosId == null) throw new ModelFormatException($"{src}: add_eos_token is on but tokenizer.ggml.eos_token_id is not set");
        // Control, user-defined and unknown pieces written in the text are matched whole, as llama.cpp's partitioner does.
        _specials = new AddedTokenMatcher(Enumerable.Range(0, n)
            .Where(i => _types[i] is GgufTokenType.Control or GgufTokenType.UserDefined or GgufTokenType.Unknown)
            .Select(i => (d.Tokens[i], new AddedToken(i, d.Tokens[i], Special: IsSpecial(i)))));
        StopIds = TokenizerConventions.StopIds(EosId, TokenToId, Id(d.EotId));
    }

    public static GgufTokenizer FromData(GgufTokenizerData data) => new(data);

    public static GgufTokenizer FromGguf(GgufFile g) => new(ReadData(g));

    public static GgufTokenizerData ReadData(GgufFile g)
    {
        const string P = "tokenizer.ggml.";
        string model = g.GetString(P + "model") ?? throw new ModelFormatException($"{g.FilePath}: metadata key '{P}model' is missing");
        int? Id(string key) => g.Get<long>(P + key) is long v && v is >= 0 and <= int.MaxValue ? (int)v : null;
        bool? Flag(string key) => g.Has(P + key) ? g.Metadata[P + key] as bool? ?? throw new ModelFormatException($"{g.FilePath}: metadata key '{P}{key}' must be a bool") : null;
        return new GgufTokenizerData(model, g.GetArray<string>(P + "tokens") ?? throw new ModelFormatException($"{g.FilePath}: metadata key '{P}tokens' is missing"))
        {
            Scores = g.GetArray<float>(P + "scores"),
            TokenTypes = g.GetArray<int>(P + "token_type"),
            Merges = g.GetArray<string>(P + "merges"),
            Pre = g.GetString(P + "pre"),
            BosId = Id("bos_token_id"),
            EosId = Id("eos_token_id"),
            UnkId = Id("unknown_token_id"),
            PadId = Id("padding_token_id"),
            EotId = Id("eot_token_id"),
            AddBos = Flag("add_bos_token"),
            AddEos = Flag("add_eos_token"),
            AddSpacePrefix = Flag("add_space_prefix"),
            ChatTemplate = g.GetString("tokenizer.chat_template"),
            Source = g.FilePath,
        };
    }

    /// <summary>The split regexes llama.cpp uses for a <c>tokenizer.ggml.pre</c> value, and whether it is Llama 3's.</summary>
    static (string[] Patterns, bool IsLlama3) PreTokenizerFor(string? pre, string src) => pre switch
    {
        null or "default" => (SplitPatterns.LlamaCppDefault, false),
        "gpt-2" or "gpt2" => ([SplitPatterns.Gpt2], false),
        "llama3" or "llama-v3" or "llama-bpe" => ([SplitPatterns.Llama3], true),
        "qwen2" => ([SplitPatterns.Qwen2], false),
        _ => throw new NotSupportedException($"{src}: tokenizer.ggml.pre = '{pre}' is not supported (Ares implements default, gpt-2, llama3/llama-v3/llama-bpe, qwen2)"),
    };

    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && _addBos) ids.Add(BosId!.Value);
        var segments = new List<TextSegment>();
        var pieces = new List<Piece>();
        _specials.Split(text, segments);
        bool afterSpecial = true; // llama.cpp: the text at the start and after each special token gets the space prefix
        foreach (var s in segments)
        {
            if (s.Token != null) { ids.Add(s.Token.Id); afterSpecial = true; continue; }
            if (_spm != null)
                _spm.Encode(((_addSpacePrefix && afterSpecial ? " " : "") + s.Text).Replace(' ', '▁'), ids);
            else
            {
                pieces.Clear();
                _preTokenizer!(new Piece(s.Text, s.Start == 0), pieces);
                foreach (var p in pieces) _bpe!.Encode(p.Text, ids);
            }
            afterSpecial = false;
        }
        if (addSpecialTokens && _addEos) ids.Add(EosId!.Value);
        return [.. ids];
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>();
        bool first = true; // no piece output yet: the one that comes next may carry the space prefix
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_types.Length) continue; // no such token: dropped, like Hugging Face
            string token = _data.Tokens[id];
            int before = bytes.Count;
            switch (_types[id])
            {
                case GgufTokenType.Control or GgufTokenType.Unknown:
                    if (!skipSpecialTokens) bytes.AddRange(Encoding.UTF8.GetBytes(token));
                    break;
                case GgufTokenType.Byte when Decoders.TryParseByteToken(token, out byte b):
                    bytes.Add(b);
                    break;
                case GgufTokenType.UserDefined:
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
                    break;
                default:
                    if (_bpe != null) { ByteLevel.AppendBytes(token, bytes); break; }
                    string text = token.Replace('▁', ' ');
                    if (_addSpacePrefix && first && text.StartsWith(' ')) text = text[1..];
                    bytes.AddRange(Encoding.UTF8.GetBytes(text));
                    first = false;
                    break;
            }
            first &= bytes.Count == before;
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    public string IdToToken(int id) => (uint)id < (uint)VocabSize ? _data.Tokens[id]
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"no token has id {id} (vocabulary size {VocabSize})");

    public int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    public bool IsSpecial(int id) => (uint)id < (uint)_types.Length && _types[id] is GgufTokenType.Control or GgufTokenType.Unknown;
}
