using System.Globalization;
using System.Text;

namespace Ares.Core.Tokenization;

/// <summary>Rewrites text before pre-tokenization (tokenizer.json "normalizer").</summary>
internal delegate string Normalizer(string text);

internal static class Normalizers
{
    /// <summary>Builds the normalizer a tokenizer.json "normalizer" object describes; null when there is none.</summary>
    public static Normalizer? FromJson(JsonAt? json)
    {
        if (json is not { } j) return null;
        switch (j.Type)
        {
            case "Sequence":
                var steps = j.Req("normalizers").Items().Select(s => FromJson(s)!).ToArray();
                return text => steps.Aggregate(text, (t, step) => step(t));
            case "NFC": return text => UnicodeNormalization.Normalize(text, NormalizationForm.FormC);
            case "NFD": return text => UnicodeNormalization.Normalize(text, NormalizationForm.FormD);
            case "NFKC": return text => UnicodeNormalization.Normalize(text, NormalizationForm.FormKC);
            case "NFKD": return text => UnicodeNormalization.Normalize(text, NormalizationForm.FormKD);
            case "Lowercase": return text => text.ToLowerInvariant();
            case "Strip":
                bool left = j.Bool("strip_left", false), right = j.Bool("strip_right", false);
                return text => left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;
            case "StripAccents":
                // Drops combining marks; meaningful after NFD/NFKD, as in the tokenizers that use it.
                return text => string.Concat(text.EnumerateRunes().Where(r => Rune.GetUnicodeCategory(r) is not
                    (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)));
            case "Prepend":
                // Hugging Face prepends only to non-empty text, so "" still encodes to nothing.
                string prefix = j.Str("prepend");
                return text => text.Length == 0 ? text : prefix + text;
            case "Replace":
                var pattern = TextPattern.FromJson(j.Req("pattern"));
                string content = j.Str("content");
                return text => pattern.Replace(text, content);
            case var other:
                throw j.Unsupported($"normalizer type '{other}'");
        }
    }
}
