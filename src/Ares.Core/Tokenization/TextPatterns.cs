using System.Globalization;
using System.Text.RegularExpressions;

namespace Ares.Core.Tokenization;

/// <summary>
/// A regex that matches with code-point semantics, as the Oniguruma/Rust regexes behind tokenizer.json and
/// llama.cpp's splitter do. .NET regexes see UTF-16 code units, so in "😀abc" the two surrogates of the emoji
/// would each count as a separate non-letter and <c>[^\r\n\p{L}\p{N}]?\p{L}+</c> would split differently.
/// Before matching, every non-BMP character is replaced by a BMP stand-in of the same general category; match
/// offsets are mapped back to the original string.
/// </summary>
internal sealed class CodePointRegex
{
    readonly Regex _regex;

    public CodePointRegex(string pattern)
    {
        // A non-BMP literal in the pattern would be two code units to .NET and could not match a stand-in.
        if (pattern.Any(char.IsSurrogate))
            throw new NotSupportedException($"regex '{pattern}' contains characters outside the Basic Multilingual Plane");
        // Multiline: Oniguruma's default (Ruby) syntax, used by Hugging Face tokenizers, treats ^ and $ as line anchors.
        _regex = new Regex(pattern, RegexOptions.Multiline | RegexOptions.CultureInvariant);
    }

    /// <summary>Non-overlapping matches, left to right, as (start, end) UTF-16 offsets into <paramref name="s"/>.</summary>
    public List<(int Start, int End)> Matches(string s)
    {
        var result = new List<(int, int)>();
        if (!s.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            for (var m = _regex.Match(s); m.Success; m = m.NextMatch()) result.Add((m.Index, m.Index + m.Length));
            return result;
        }
        var shadow = new char[s.Length];
        var original = new int[s.Length + 1]; // shadow index → original index
        int n = 0;
        for (int i = 0; i < s.Length; i++, n++)
        {
            original[n] = i;
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                shadow[n] = StandIn[(int)CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(s[i], s[++i]))];
            else shadow[n] = s[i];
        }
        original[n] = s.Length;
        for (var m = _regex.Match(new string(shadow, 0, n)); m.Success; m = m.NextMatch())
            result.Add((original[m.Index], original[m.Index + m.Length]));
        return result;
    }

    /// <summary>For each general category, the first BMP character above Latin-1 that has it.</summary>
    static readonly char[] StandIn = BuildStandIns();

    static char[] BuildStandIns()
    {
        var table = new char[Enum.GetValues<UnicodeCategory>().Length];
        for (int c = 0xFFFD; c >= 0x100; c--) // downwards, so the lowest code point wins
            if (!char.IsSurrogate((char)c)) table[(int)char.GetUnicodeCategory((char)c)] = (char)c;
        return table;
    }
}

/// <summary>
/// The <c>{"String": ...}</c> / <c>{"Regex": ...}</c> pattern of tokenizer.json's Split pre-tokenizer and Replace
/// normalizer/decoder: a literal or a regex.
/// </summary>
internal sealed class TextPattern
{
    readonly string? _literal;
    readonly CodePointRegex? _regex;

    TextPattern(string? literal, CodePointRegex? regex) { _literal = literal; _regex = regex; }

    public static TextPattern Literal(string s) => new(s, null);

    public static TextPattern FromJson(JsonAt j)
    {
        if (j.Opt("String") is { } s) return Literal(s.Str());
        if (j.Opt("Regex") is not { } r) throw j.Malformed("pattern must be {\"String\": ...} or {\"Regex\": ...}");
        try { return new TextPattern(null, new CodePointRegex(r.Str())); }
        catch (ArgumentException e) { throw r.Malformed($"invalid regex: {e.Message}"); }
        catch (NotSupportedException e) { throw r.Unsupported(e.Message); }
    }

    public List<(int Start, int End)> Matches(string s)
    {
        if (_regex != null) return _regex.Matches(s);
        var result = new List<(int, int)>();
        if (_literal!.Length == 0) return result;
        for (int i = s.IndexOf(_literal, StringComparison.Ordinal); i >= 0; i = s.IndexOf(_literal, i + _literal.Length, StringComparison.Ordinal))
            result.Add((i, i + _literal.Length));
        return result;
    }

    /// <summary>Replaces every match with <paramref name="content"/>, taken literally (no $1 substitutions).</summary>
    public string Replace(string s, string content)
    {
        if (_literal != null) return _literal.Length == 0 ? s : s.Replace(_literal, content, StringComparison.Ordinal);
        var matches = _regex!.Matches(s);
        if (matches.Count == 0) return s;
        var sb = new System.Text.StringBuilder(s.Length);
        int done = 0;
        foreach (var (start, end) in matches) { sb.Append(s, done, start - done).Append(content); done = end; }
        return sb.Append(s, done, s.Length - done).ToString();
    }
}
