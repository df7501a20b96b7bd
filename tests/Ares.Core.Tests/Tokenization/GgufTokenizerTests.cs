using Ares.Core.Formats;
using Ares.Core.Tokenization;

namespace Ares.Core.Tests.Tokenization;

public class GgufTokenizerTests
{
    static readonly Lazy<GgufTokenizer> Stories = new(() =>
    {
        using var g = GgufFile.Open(Fixtures.Stories260KGguf);
        return GgufTokenizer.FromGguf(g);
    });

    [Fact]
    public void Stories260K_encodes_the_README_example_with_BOS_and_space_prefix()
    {
        var t = Stories.Value;
        Assert.Equal([1, 403, 407, 261, 378], t.Encode("Once upon a time"));
        Assert.Equal([403, 407, 261, 378], t.Encode("Once upon a time", addSpecialTokens: false));
        Assert.Equal((512, 1, 2), (t.VocabSize, t.BosId, t.EosId));
        Assert.Null(t.PadId); // stored as 0xFFFFFFFF: none
        Assert.Equal([2], t.StopIds.Order());
        Assert.StartsWith("gguf llama", t.Kind);
    }

    [Fact]
    public void Decode_drops_the_space_prefix_of_the_first_piece_only()
    {
        var t = Stories.Value;
        Assert.Equal("Once upon a time", t.Decode([1, 403, 407, 261, 378]));
        Assert.Equal("Once upon a time", t.Decode([403, 407, 261, 378]));
        Assert.Equal("<s> Once upon a time", t.Decode([1, 403, 407, 261, 378], skipSpecialTokens: false));
        Assert.Equal(" upon a time", t.Decode([403, 407, 261, 378]).Substring(4));
    }

    [Fact]
    public void Golden_story_text_round_trips()
    {
        string story = File.ReadAllText(Path.Combine(Fixtures.Root, "stories260K", "greedy_bos_200.txt"));
        var t = Stories.Value;
        Assert.Equal(story, t.Decode(t.Encode(story)));
    }

    [Fact]
    public void Leading_spaces_survive_the_round_trip_only_the_prefix_space_is_removed()
    {
        var t = Stories.Value;
        Assert.Equal("    four leading spaces, one trailing ", t.Decode(t.Encode("    four leading spaces, one trailing ")));
    }

    [Theory]
    [InlineData("日本 😀")]
    [InlineData("Tabs\tand\nnew lines")]
    public void Characters_outside_the_vocabulary_fall_back_to_byte_tokens_and_round_trip(string text)
    {
        var t = Stories.Value;
        var ids = t.Encode(text);
        Assert.Contains(ids, id => id is >= 3 and <= 258); // <0x00> … <0xFF>
        Assert.Equal(text, t.Decode(ids));
    }

    [Fact]
    public void Control_tokens_written_in_the_text_are_matched_and_the_next_text_gets_a_space_prefix()
    {
        var t = Stories.Value;
        var ids = t.Encode("Once</s>Once", addSpecialTokens: false);
        Assert.Equal([403, 2, 403], ids);
        Assert.Equal("Once Once", t.Decode(ids)); // "▁Once" after a control token keeps its space
    }

    [Fact]
    public void Llama_pieces_merge_by_highest_score()
    {
        // "▁abc": bigrams ▁a (-1), ab (-0.5), bc (-2). ab wins; then only abc (-3) is a piece.
        string[] tokens = ["<unk>", "<s>", "</s>", "▁", "a", "b", "c", "▁a", "ab", "bc", "abc"];
        float[] scores = [0, 0, 0, -10, -10, -10, -10, -1, -0.5f, -2, -3];
        var t = GgufTokenizer.FromData(new GgufTokenizerData("llama", tokens)
        {
            Scores = scores,
            TokenTypes = [2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1],
            BosId = 1,
            EosId = 2,
            UnkId = 0,
            AddBos = false,
        });
        Assert.Equal([3, 10], t.Encode("abc"));
        Assert.Equal([3, 0, 0, 7], t.Encode("é a")); // ▁ é ▁a, and with no byte tokens here é is one unk per UTF-8 byte
    }

    /// <summary>GPT-2's bytes_to_unicode, written out independently of <see cref="ByteLevel"/>.</summary>
    static IEnumerable<string> Gpt2ByteAlphabet()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range(0xA1, 12)).Concat(Enumerable.Range(0xAE, 82)).ToHashSet();
        int next = 256;
        for (int b = 0; b < 256; b++) yield return ((char)(printable.Contains(b) ? b : next++)).ToString();
    }

    static GgufTokenizerData Gpt2Data(string? pre)
    {
        List<string> tokens = [.. Gpt2ByteAlphabet(), "Ġt", "he", "Ġthe", "the", "<|endoftext|>", "<|eot_id|>", "xyz"];
        return new GgufTokenizerData("gpt2", tokens)
        {
            Merges = ["Ġ t", "h e", "Ġt he", "t he"],
            Pre = pre,
            BosId = 260,
            EosId = 260,
            TokenTypes = [.. Enumerable.Repeat(1, 260), 3, 3, 1],
        };
    }

    [Fact]
    public void Gpt2_model_is_byte_level_BPE_by_merge_rank()
    {
        var t = GgufTokenizer.FromData(Gpt2Data("gpt-2"));
        Assert.Equal([259, 258], t.Encode("the the")); // "the", "Ġthe"
        Assert.Equal("the the é\n", t.Decode(t.Encode("the the é\n")));
        Assert.Equal([260], t.Encode("<|endoftext|>"));
        Assert.Equal("", t.Decode(t.Encode("<|endoftext|>")));
        Assert.Equal(2, t.StopIds.Count); // EOS and <|eot_id|>
    }

    [Fact]
    public void Llama3_pre_tokenizer_adds_BOS_by_default_and_ignores_merges_for_whole_words()
    {
        var t = GgufTokenizer.FromData(Gpt2Data("llama-bpe"));
        Assert.Equal([260, 262], t.Encode("xyz")); // no merges lead to "xyz", but it is a whole pre-token in the vocabulary
        Assert.Equal(Gpt2ByteAlphabet().Select((c, i) => (c, i)).Where(p => p.c is "x" or "y" or "z").Select(p => p.i),
            GgufTokenizer.FromData(Gpt2Data("qwen2")).Encode("xyz"));
    }

    [Fact]
    public void Gpt2_model_built_from_the_Qwen3_vocabulary_encodes_like_its_tokenizer_json()
    {
        // What llama.cpp's converter stores: tokens by id, merges as "left right", special added tokens as control.
        var hf = HfTokenizerGoldenTests.Get("qwen3");
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures.Tokenizers, "qwen3", "tokenizer.json")));
        var model = doc.RootElement.GetProperty("model");
        var tokens = new string[hf.VocabSize];
        var types = new int[hf.VocabSize];
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) (tokens[p.Value.GetInt32()], types[p.Value.GetInt32()]) = (p.Name, 1);
        foreach (var a in doc.RootElement.GetProperty("added_tokens").EnumerateArray())
            (tokens[a.GetProperty("id").GetInt32()], types[a.GetProperty("id").GetInt32()]) = (a.GetProperty("content").GetString()!, a.GetProperty("special").GetBoolean() ? 3 : 4);
        var merges = model.GetProperty("merges").EnumerateArray().Select(m => m[0].GetString() + " " + m[1].GetString()).ToArray();
        var gguf = GgufTokenizer.FromData(new GgufTokenizerData("gpt2", tokens) { Merges = merges, Pre = "qwen2", TokenTypes = types, EosId = hf.EosId });

        var texts = System.Text.Json.JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(Fixtures.Tokenizers, "texts.json")))!;
        foreach (var text in texts) // all NFC already: llama.cpp applies no normalizer
        {
            Assert.Equal(hf.Encode(text), gguf.Encode(text));
            Assert.Equal(text, gguf.Decode(gguf.Encode(text), skipSpecialTokens: false));
        }
        Assert.Equal([151_645], gguf.StopIds.Order());
    }

    [Fact]
    public void Unknown_models_and_pre_tokenizers_are_named_in_the_error()
    {
        var model = Assert.Throws<NotSupportedException>(() => GgufTokenizer.FromData(new GgufTokenizerData("bert", ["a"]) { Source = "x.gguf" }));
        Assert.Contains("x.gguf: tokenizer.ggml.model = 'bert'", model.Message);
        var pre = Assert.Throws<NotSupportedException>(() => GgufTokenizer.FromData(Gpt2Data("deepseek-llm")));
        Assert.Contains("tokenizer.ggml.pre = 'deepseek-llm'", pre.Message);
    }
}
