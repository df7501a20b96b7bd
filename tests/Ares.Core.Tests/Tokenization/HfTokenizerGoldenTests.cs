using System.Text.Json;
using Ares.Core.Tokenization;

namespace Ares.Core.Tests.Tokenization;

/// <summary>The two real tokenizers against ids and text from an independent implementation (transformers.js).</summary>
public class HfTokenizerGoldenTests
{
    static readonly Lazy<HfTokenizer> Mistral = new(() => HfTokenizer.Load(Path.Combine(Fixtures.Tokenizers, "mistral")));
    static readonly Lazy<HfTokenizer> Qwen3 = new(() => HfTokenizer.Load(Path.Combine(Fixtures.Tokenizers, "qwen3")));
    internal static HfTokenizer Get(string name) => name == "mistral" ? Mistral.Value : Qwen3.Value;

    public sealed record Golden(string Text, int[] Ids, int[] IdsWithoutSpecial, string Decoded);

    static readonly Lazy<Dictionary<string, Golden[]>> All = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures.Tokenizers, "golden.json")));
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(e => new Golden(
            e.GetProperty("text").GetString()!,
            [.. e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32())],
            [.. e.GetProperty("ids_without_special").EnumerateArray().Select(i => i.GetInt32())],
            e.GetProperty("decoded").GetString()!)).ToArray());
    });

    public static TheoryData<string, int> Cases()
    {
        var texts = JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(Fixtures.Tokenizers, "texts.json")))!;
        var data = new TheoryData<string, int>();
        foreach (var name in new[] { "mistral", "qwen3" })
            for (int i = 0; i < texts.Length; i++) data.Add(name, i);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Encode_with_special_tokens_matches_golden_ids(string tokenizer, int index)
    {
        var g = All.Value[tokenizer][index];
        Assert.Equal(g.Ids, Get(tokenizer).Encode(g.Text, addSpecialTokens: true));
    }

    [Theory, MemberData(nameof(Cases))]
    public void Encode_without_special_tokens_matches_golden_ids(string tokenizer, int index)
    {
        var g = All.Value[tokenizer][index];
        Assert.Equal(g.IdsWithoutSpecial, Get(tokenizer).Encode(g.Text, addSpecialTokens: false));
    }

    [Theory, MemberData(nameof(Cases))]
    public void Decode_matches_golden_text_and_round_trips(string tokenizer, int index)
    {
        var g = All.Value[tokenizer][index];
        var t = Get(tokenizer);
        Assert.Equal(g.Decoded, t.Decode(g.IdsWithoutSpecial, skipSpecialTokens: false));
        Assert.Equal(g.Text, t.Decode(t.Encode(g.Text, addSpecialTokens: false), skipSpecialTokens: false));
    }
}
