using System.Globalization;
using System.Text;

namespace Ares.Core.Tokenization;

/// <summary>
/// A pre-token: a piece of normalized text that the model encodes on its own. <see cref="AtStart"/> says whether it
/// begins at offset 0 of the original input (Metaspace's prepend_scheme "first" needs to know).
/// </summary>
internal readonly record struct Piece(string Text, bool AtStart);

/// <summary>Splits one piece into smaller pieces (tokenizer.json "pre_tokenizer"); appends them to the output.</summary>
internal delegate void PreTokenizer(Piece piece, List<Piece> output);

/// <summary>What becomes of the matched delimiters when splitting (Hugging Face's SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>The split regexes that llama.cpp applies for GGUF <c>tokenizer.ggml.pre</c> values (Hugging Face files carry their own).</summary>
internal static class SplitPatterns
{
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    // As llama.cpp writes them: the tokenizer.json originals' (?i:'s|'t|...) spelled out with explicit case classes.
    public const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>llama.cpp's "default" pre-tokenizer: four regexes applied one after another, each isolating its matches.</summary>
    public static readonly string[] LlamaCppDefault =
        [@"[\p{P}\$\+<=>\^~\|]+", @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)", @"\p{N}+", "[0-9][0-9][0-9]"];
}

internal static class PreTokenizers
{
    static readonly CodePointRegex Gpt2Regex = new(SplitPatterns.Gpt2);
    static readonly CodePointRegex WordsRegex = new(@"\w+|[^\w\s]+");

    /// <summary>Builds the pre-tokenizer a tokenizer.json "pre_tokenizer" object describes; null when there is none.</summary>
    public static PreTokenizer? FromJson(JsonAt? json)
    {
        if (json is not { } j) return null;
        switch (j.Type)
        {
            case "Sequence":
                return Chain(j.Req("pretokenizers").Items().Select(p => FromJson(p)!).ToArray());
            case "Split":
                var pattern = TextPattern.FromJson(j.Req("pattern"));
                var behavior = ParseBehavior(j.Req("behavior"));
                bool invert = j.Bool("invert", false);
                return (piece, output) => Split(piece, pattern.Matches(piece.Text), behavior, invert, output);
            case "ByteLevel":
                return ByteLevelSplit(j.Bool("add_prefix_space", true), j.Bool("use_regex", true));
            case "Metaspace":
                return Metaspace(j);
            case "Whitespace":
                return (piece, output) => Split(piece, WordsRegex.Matches(piece.Text), SplitBehavior.Removed, invert: true, output);
            case "WhitespaceSplit":
                return (piece, output) => Split(piece, EachChar(piece.Text, Rune.IsWhiteSpace), SplitBehavior.Removed, false, output);
            case "CharDelimiterSplit":
                var delimiter = j.Str("delimiter");
                return (piece, output) => Split(piece, TextPattern.Literal(delimiter).Matches(piece.Text), SplitBehavior.Removed, false, output);
            case "Digits":
                var digits = j.Bool("individual_digits", false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous;
                return (piece, output) => Split(piece, EachChar(piece.Text, Rune.IsNumber), digits, false, output);
            case "Punctuation":
                var punct = j.Opt("behavior") is { } b ? ParseBehavior(b) : SplitBehavior.Isolated;
                return (piece, output) => Split(piece, EachChar(piece.Text, IsPunctuation), punct, false, output);
            case var other:
                throw j.Unsupported($"pre-tokenizer type '{other}'");
        }
    }

    static PreTokenizer Chain(IReadOnlyList<PreTokenizer> steps) => (piece, output) =>
    {
        var current = new List<Piece> { piece };
        foreach (var step in steps)
        {
            var next = new List<Piece>();
            foreach (var p in current) step(p, next);
            current = next;
        }
        output.AddRange(current);
    };

    /// <summary>Isolates the matches of each regex in turn, then writes the pieces in the byte-level alphabet (GGUF gpt2 models).</summary>
    public static PreTokenizer ByteLevelRegexes(IEnumerable<string> patterns)
    {
        var steps = patterns.Select(p => new CodePointRegex(p))
            .Select(r => (PreTokenizer)((piece, output) => Split(piece, r.Matches(piece.Text), SplitBehavior.Isolated, false, output)))
            .Append(ByteLevelSplit(addPrefixSpace: false, useRegex: false));
        return Chain([.. steps]);
    }

    /// <summary>GPT-2's ByteLevel: optional leading space, optional GPT-2 regex split, then the byte-level alphabet.</summary>
    static PreTokenizer ByteLevelSplit(bool addPrefixSpace, bool useRegex) => (piece, output) =>
    {
        string text = addPrefixSpace && !piece.Text.StartsWith(' ') ? " " + piece.Text : piece.Text;
        var parts = new List<Piece>();
        if (useRegex) Split(piece with { Text = text }, Gpt2Regex.Matches(text), SplitBehavior.Isolated, false, parts);
        else parts.Add(piece with { Text = text });
        foreach (var p in parts) output.Add(p with { Text = ByteLevel.Encode(p.Text) });
    };

    /// <summary>SentencePiece-style: spaces become the replacement (▁), which is prepended per the scheme, and each ▁ starts a piece.</summary>
    static PreTokenizer Metaspace(JsonAt j)
    {
        string rep = j.Str("replacement");
        if (rep.Length != 1) throw j.Malformed($"replacement '{rep}' must be one character");
        string scheme = j.OptStr("prepend_scheme") ?? "always";
        if (!j.Bool("add_prefix_space", true)) scheme = "never"; // legacy spelling of prepend_scheme
        if (scheme is not ("always" or "first" or "never")) throw j.Unsupported($"prepend_scheme '{scheme}'");
        bool split = j.Bool("split", true);
        return (piece, output) =>
        {
            string text = piece.Text.Replace(" ", rep, StringComparison.Ordinal);
            if ((scheme == "always" || (scheme == "first" && piece.AtStart)) && !text.StartsWith(rep, StringComparison.Ordinal)) text = rep + text;
            if (split) Split(piece with { Text = text }, TextPattern.Literal(rep).Matches(text), SplitBehavior.MergedWithNext, false, output);
            else output.Add(piece with { Text = text });
        };
    }

    /// <summary>
    /// Hugging Face's NormalizedString.split: the text alternates between non-matches and matches; the behavior
    /// decides which pieces survive and how matches attach to their neighbours; empty pieces are dropped.
    /// </summary>
    public static void Split(Piece piece, List<(int Start, int End)> matches, SplitBehavior behavior, bool invert, List<Piece> output)
    {
        string text = piece.Text;
        var spans = new List<(int Start, int End, bool Match)>(matches.Count * 2 + 1);
        int prev = 0;
        foreach (var (s, e) in matches)
        {
            if (prev != s) spans.Add((prev, s, invert));
            spans.Add((s, e, !invert));
            prev = e;
        }
        if (prev != text.Length) spans.Add((prev, text.Length, invert));

        var kept = new List<(int Start, int End, bool Remove)>(spans.Count);
        bool previousMatch = false;
        switch (behavior)
        {
            case SplitBehavior.Removed: kept.AddRange(spans); break;
            case SplitBehavior.Isolated: kept.AddRange(spans.Select(s => (s.Start, s.End, false))); break;
            case SplitBehavior.MergedWithPrevious:
                foreach (var s in spans)
                {
                    if (s.Match && !previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, s.End, false);
                    else kept.Add((s.Start, s.End, false));
                    previousMatch = s.Match;
                }
                break;
            case SplitBehavior.MergedWithNext:
                for (int i = spans.Count - 1; i >= 0; i--)
                {
                    var s = spans[i];
                    if (s.Match && !previousMatch && kept.Count > 0) kept[^1] = (s.Start, kept[^1].End, false);
                    else kept.Add((s.Start, s.End, false));
                    previousMatch = s.Match;
                }
                kept.Reverse();
                break;
            case SplitBehavior.Contiguous:
                foreach (var s in spans)
                {
                    if (s.Match == previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, s.End, false);
                    else kept.Add((s.Start, s.End, false));
                    previousMatch = s.Match;
                }
                break;
        }
        foreach (var (start, end, remove) in kept)
            if (!remove && end > start) output.Add(new Piece(text[start..end], piece.AtStart && start == 0));
    }

    static SplitBehavior ParseBehavior(JsonAt j) =>
        Enum.TryParse<SplitBehavior>(j.Str(), ignoreCase: false, out var b) && Enum.IsDefined(b) ? b : throw j.Unsupported($"split behavior '{j.Str()}'");

    /// <summary>Each code point satisfying the predicate is one match (Hugging Face's char-predicate patterns).</summary>
    static List<(int Start, int End)> EachChar(string text, Func<Rune, bool> predicate)
    {
        var result = new List<(int, int)>();
        for (int i = 0; i < text.Length;)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int length); // a lone surrogate reads as U+FFFD, length 1
            if (predicate(rune)) result.Add((i, i + length));
            i += length;
        }
        return result;
    }

    static bool IsPunctuation(Rune r) => (r.Value is > 32 and < 127 && !char.IsAsciiLetterOrDigit((char)r.Value))
        || Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation;
}
