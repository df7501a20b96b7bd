using System.Text;
using Ares.Core.Tokenization;

namespace Ares.Core.Tests.Tokenization;

public class TokenizerComponentTests
{
    static List<string> Pieces(string pattern, string text, SplitBehavior behavior = SplitBehavior.Isolated, bool invert = false)
    {
        var output = new List<Piece>();
        PreTokenizers.Split(new Piece(text, true), new CodePointRegex(pattern).Matches(text), behavior, invert, output);
        return output.ConvertAll(p => p.Text);
    }

    [Theory]
    [InlineData("Removed", false, new[] { "a", "b", "c" })]
    [InlineData("Isolated", false, new[] { "a", "-", "b", "-", "-", "c" })]
    [InlineData("MergedWithPrevious", false, new[] { "a-", "b-", "-", "c" })]
    [InlineData("MergedWithNext", false, new[] { "a", "-b", "-", "-c" })]
    [InlineData("Contiguous", false, new[] { "a", "-", "b", "--", "c" })]
    [InlineData("Removed", true, new[] { "-", "-", "-" })]
    public void Split_behaviours_match_Hugging_Face(string behavior, bool invert, string[] expected)
    {
        Assert.Equal(expected, Pieces("-", "a-b--c", Enum.Parse<SplitBehavior>(behavior), invert));
    }

    [Fact]
    public void Split_regexes_see_code_points_not_UTF16_units()
    {
        // The emoji is one non-letter, so it prefixes the following letters as [^\r\n\p{L}\p{N}]? allows.
        Assert.Equal(["😀abc", " x"], Pieces(SplitPatterns.Qwen2, "😀abc x"));
        // Mathematical bold capitals are letters outside the BMP: one \p{L}+ run.
        Assert.Equal(["𝐀𝐁", " x"], Pieces(SplitPatterns.Gpt2, "𝐀𝐁 x"));
        Assert.Equal(["Emoji", ":", " 😀👍🏽", " and", " ❤️"], Pieces(SplitPatterns.Qwen2, "Emoji: 😀👍🏽 and ❤️"));
        Assert.Equal(["a", "  ", " b", "  "], Pieces(SplitPatterns.Gpt2, "a   b  ")); // \s+(?!\S) leaves one space for " b"
    }

    [Theory]
    [InlineData("cafe\u0301", NormalizationForm.FormC, "caf\u00E9")]
    [InlineData("caf\u00E9", NormalizationForm.FormD, "cafe\u0301")]
    [InlineData("\uFB01 \uFF26\uFF55\uFF4C\uFF4C", NormalizationForm.FormKC, "fi Full")]
    [InlineData("\u00BD", NormalizationForm.FormKD, "1\u20442")]
    [InlineData("a\u0323\u0302", NormalizationForm.FormC, "\u1EAD")] // marks reordered by combining class, then composed
    [InlineData("a\u0302\u0323", NormalizationForm.FormC, "\u1EAD")]
    [InlineData("\uD55C", NormalizationForm.FormD, "\u1112\u1161\u11AB")] // Hangul, algorithmically
    [InlineData("\u1112\u1161\u11AB", NormalizationForm.FormC, "\uD55C")]
    [InlineData("\u0958", NormalizationForm.FormC, "\u0915\u093C")] // a composition exclusion stays decomposed
    [InlineData("𝐀", NormalizationForm.FormKC, "A")]
    public void Unicode_normalization_follows_UAX15(string input, NormalizationForm form, string expected)
    {
        Assert.Equal(expected, UnicodeNormalization.Normalize(input, form));
    }

    [Fact]
    public void ASCII_text_is_returned_unnormalized_without_work()
    {
        string s = "plain ASCII text";
        Assert.Same(s, UnicodeNormalization.Normalize(s, NormalizationForm.FormKC));
    }

    [Fact]
    public void Byte_level_alphabet_maps_every_byte_to_one_printable_character_and_back()
    {
        string all = ByteLevel.Encode("a é\n");
        Assert.Equal("aĠÃ©Ċ", all);
        var bytes = new List<byte>();
        ByteLevel.AppendBytes(all, bytes);
        Assert.Equal("a é\n", Encoding.UTF8.GetString([.. bytes]));
    }
}
