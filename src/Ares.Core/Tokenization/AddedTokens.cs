using System.Buffers;
using System.Globalization;

namespace Ares.Core.Tokenization;

/// <summary>
/// A token matched in the raw text before the model sees it: Hugging Face <c>added_tokens</c>, GGUF control and
/// user-defined tokens. <see cref="Special"/> tokens are the ones <c>Decode(skipSpecialTokens: true)</c> drops.
/// </summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false,
    bool SingleWord = false, bool Normalized = false);

/// <summary>A piece of the input: plain text (<see cref="Token"/> null) or one matched added token.</summary>
internal readonly record struct TextSegment(int Start, string Text, AddedToken? Token);

/// <summary>
/// Splits text around added tokens the way Hugging Face's AddedVocabulary does: leftmost-longest matches
/// (its Aho-Corasick automaton), then <c>single_word</c> (discard a match inside a word), <c>lstrip</c> /
/// <c>rstrip</c> (the token swallows the whitespace beside it).
/// </summary>
internal sealed class AddedTokenMatcher
{
    readonly Dictionary<char, (string Pattern, AddedToken Token)[]> _byFirstChar;
    readonly SearchValues<char> _firstChars;

    /// <param name="tokens">What to look for (the content, or its normalized form) and the token it stands for.</param>
    public AddedTokenMatcher(IEnumerable<(string Pattern, AddedToken Token)> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Pattern.Length > 0)
            .GroupBy(t => t.Pattern[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Pattern.Length).ToArray());
        _firstChars = SearchValues.Create([.. _byFirstChar.Keys]);
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    public void Split(string text, List<TextSegment> output)
    {
        int done = 0, i = 0;
        while (i < text.Length)
        {
            int k = text.AsSpan(i).IndexOfAny(_firstChars);
            if (k < 0) break;
            i += k;
            var candidates = _byFirstChar[text[i]];
            int c = Array.FindIndex(candidates, t => string.CompareOrdinal(text, i, t.Pattern, 0, t.Pattern.Length) == 0);
            if (c < 0) { i++; continue; }
            var (pattern, token) = candidates[c];
            int start = i, stop = i + pattern.Length;
            i = stop; // like the automaton, resume after this match even if it is discarded below
            if (token.SingleWord && ((start > 0 && IsWordChar(text[start - 1])) || (stop < text.Length && IsWordChar(text[stop]))))
                continue;
            if (token.LStrip)
            {
                while (start > done && char.IsWhiteSpace(text[start - 1])) start--;
            }
            if (token.RStrip)
            {
                while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
                i = stop;
            }
            if (done < start) output.Add(new TextSegment(done, text[done..start], null));
            output.Add(new TextSegment(start, text[start..stop], token));
            done = stop;
        }
        if (done < text.Length) output.Add(new TextSegment(done, text[done..], null));
    }

    // Rust's \w: letters, marks, decimal digits and connector punctuation.
    static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || char.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark
        or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.ConnectorPunctuation;
}
