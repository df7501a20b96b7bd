using Ares.Core.Formats;
using Ares.Core.Tokenization;

namespace Ares.Core.Tests.Tokenization;

public class HfTokenizerTests
{
    static HfTokenizer Qwen3 => HfTokenizerGoldenTests.Get("qwen3");
    static HfTokenizer Mistral => HfTokenizerGoldenTests.Get("mistral");

    [Fact]
    public void Qwen3_reads_special_tokens_and_chat_template_from_tokenizer_config()
    {
        var t = Qwen3;
        Assert.Equal(151_669, t.VocabSize);
        Assert.Null(t.BosId);
        Assert.Equal(151_645, t.EosId); // <|im_end|>
        Assert.Equal(151_643, t.PadId); // <|endoftext|>
        Assert.Equal([151_645], t.StopIds.Order());
        Assert.Contains("<|im_start|>", t.ChatTemplate);
        Assert.Equal("Hello", t.IdToToken(9707));
        Assert.Equal(151_644, t.TokenToId("<|im_start|>"));
        Assert.True(t.IsSpecial(151_644));
        Assert.False(t.IsSpecial(151_667)); // <think> is an added token but not special
        Assert.Contains("byte-level", t.Kind);
    }

    [Fact]
    public void Mistral_adds_BOS_from_its_template_and_reads_ids_from_the_config()
    {
        var t = Mistral;
        Assert.Equal((1, 2), (t.BosId, t.EosId));
        Assert.Null(t.PadId);
        Assert.Equal([2], t.StopIds.Order());
        Assert.Equal([1], t.Encode(""));
        Assert.Equal("▁", t.IdToToken(28705));
        Assert.Contains("byte fallback", t.Kind);
    }

    [Fact]
    public void Special_tokens_in_text_are_matched_and_skipped_on_request()
    {
        var ids = Qwen3.Encode("<|im_start|>user\n<think>x</think><|im_end|>", addSpecialTokens: false);
        Assert.Equal(151_644, ids[0]);
        Assert.Contains(151_667, ids); // <think>
        Assert.Equal(151_645, ids[^1]);
        Assert.Equal("user\n<think>x</think>", Qwen3.Decode(ids, skipSpecialTokens: true)); // non-special added tokens stay
        Assert.Equal([1, 1, 22557], Mistral.Encode("<s>Hello")); // "Hello" after <s> gets its own ▁ prefix
    }

    [Fact]
    public void NFC_normalizer_composes_decomposed_text_before_encoding()
    {
        Assert.Equal(Qwen3.Encode("caf\u00E9"), Qwen3.Encode("cafe\u0301"));
    }

    [Fact]
    public void Loads_from_the_tokenizer_json_path_as_well_as_the_directory()
    {
        var t = HfTokenizer.Load(Path.Combine(Fixtures.Tokenizers, "mistral", "tokenizer.json"));
        Assert.Equal(1, t.BosId); // tokenizer_config.json beside it is still read
    }

    [Fact]
    public void Malformed_json_is_reported_with_the_file_name()
    {
        using var dir = new TempDir();
        string path = dir.Write("tokenizer.json", "{\"model\": {\"type\": \"BPE\",");
        var e = Assert.Throws<ModelFormatException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("malformed JSON", e.Message);
    }

    [Theory]
    [InlineData("""{"type": "WordPiece", "vocab": {}}""", null, "$.model", "model type 'WordPiece'")]
    [InlineData("""{"type": "BPE", "vocab": {"a": 0}, "merges": []}""", """{"type": "Precompiled", "precompiled_charsmap": ""}""", "$.normalizer", "normalizer type 'Precompiled'")]
    public void Unsupported_components_are_reported_with_file_path_and_type(string model, string? normalizer, string jsonPath, string what)
    {
        using var dir = new TempDir();
        string path = dir.Write("tokenizer.json", $$"""{"model": {{model}}, "normalizer": {{normalizer ?? "null"}}}""");
        var e = Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains(jsonPath, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void A_merge_of_tokens_outside_the_vocabulary_is_reported()
    {
        using var dir = new TempDir();
        dir.Write("tokenizer.json", """{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}""");
        var e = Assert.Throws<ModelFormatException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains("merge #0 'a b': 'ab' is not in the vocabulary", e.Message);
    }

    // ---- small hand-written tokenizers, one rule each ----

    static HfTokenizer Tiny(string model, string extra = "", string? config = null)
    {
        using var dir = new TempDir();
        dir.Write("tokenizer.json", $$"""{"model": {{model}} {{extra}} }""");
        if (config != null) dir.Write("tokenizer_config.json", config);
        return HfTokenizer.Load(dir.Path);
    }

    const string AbcVocab = """{"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "bc": 5}""";

    [Fact]
    public void Merges_apply_by_rank_in_either_serialized_form()
    {
        // "b c" ranks before "a b", so "abc" → a + bc; there is no merge a + bc.
        var strings = Tiny($$"""{"type": "BPE", "vocab": {{AbcVocab}}, "merges": ["b c", "a b", "ab c"]}""");
        var pairs = Tiny($$"""{"type": "BPE", "vocab": {{AbcVocab}}, "merges": [["b", "c"], ["a", "b"], ["ab", "c"]]}""");
        Assert.Equal([0, 5], strings.Encode("abc"));
        Assert.Equal([0, 5], pairs.Encode("abc"));
        Assert.Equal([3, 3], strings.Encode("abab"));
    }

    [Fact]
    public void Ignore_merges_emits_a_pre_token_found_in_the_vocabulary_whole()
    {
        var t = Tiny($$"""{"type": "BPE", "ignore_merges": true, "vocab": {{AbcVocab}}, "merges": ["b c"]}""");
        Assert.Equal([4], t.Encode("abc"));
    }

    [Fact]
    public void Unknown_characters_become_unk_fused_when_asked()
    {
        var plain = Tiny("""{"type": "BPE", "unk_token": "<unk>", "vocab": {"<unk>": 0, "a": 1}, "merges": []}""");
        var fused = Tiny("""{"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "vocab": {"<unk>": 0, "a": 1}, "merges": []}""");
        Assert.Equal([1, 0, 0, 1], plain.Encode("axya"));
        Assert.Equal([1, 0, 1], fused.Encode("axya"));
    }

    [Fact]
    public void Byte_fallback_spells_unknown_characters_in_bytes_and_decodes_them_back()
    {
        var bytes = string.Join(", ", Enumerable.Range(0, 256).Select(b => $"\"<0x{b:X2}>\": {b + 2}"));
        var t = Tiny($$"""{"type": "BPE", "byte_fallback": true, "unk_token": "<unk>", "vocab": {"<unk>": 0, "a": 1, {{bytes}}}, "merges": []}""",
            """, "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}""");
        Assert.Equal([1, 0xE2 + 2, 0x82 + 2, 0xAC + 2, 1], t.Encode("a€a"));
        Assert.Equal("a€a", t.Decode(t.Encode("a€a")));
        Assert.Equal("a\uFFFD\uFFFD", t.Decode([1, 0xE2 + 2, 0x82 + 2])); // a truncated sequence: one U+FFFD per byte
    }

    [Fact]
    public void Continuing_subword_prefix_and_end_of_word_suffix_mark_word_positions()
    {
        var t = Tiny("""
            {"type": "BPE", "continuing_subword_prefix": "##", "end_of_word_suffix": "</w>",
             "vocab": {"a": 0, "##b": 1, "##c</w>": 2, "ab": 3, "abc</w>": 4}, "merges": ["a ##b", "ab ##c</w>"]}
            """);
        Assert.Equal([4], t.Encode("abc"));
        Assert.Equal([0], t.Encode("ab")); // "b" ends this word, so it is "##b</w>", not in the vocabulary: dropped
    }

    [Fact]
    public void Metaspace_prepends_to_the_first_piece_only_with_scheme_first()
    {
        var t = Tiny("""{"type": "BPE", "vocab": {"▁a": 0, "a": 1, "▁": 2, "<x>": 3}, "merges": [["▁", "a"]]}""", """
            , "added_tokens": [{"id": 3, "content": "<x>", "special": true, "normalized": false}]
            , "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}
            , "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"}
            """);
        Assert.Equal([0, 0], t.Encode("a a"));
        Assert.Equal([0, 3, 1], t.Encode("a<x>a")); // after a special token the piece does not start the input
        Assert.Equal("a a", t.Decode([0, 0]));
    }

    [Fact]
    public void Added_tokens_honour_lstrip_rstrip_and_single_word()
    {
        var t = Tiny("""{"type": "BPE", "vocab": {"a": 0, " ": 1, "<m>": 2, "xy": 3, "x": 4, "y": 5}, "merges": []}""", """
            , "added_tokens": [{"id": 2, "content": "<m>", "lstrip": true, "rstrip": true, "normalized": false, "special": true},
                               {"id": 3, "content": "xy", "single_word": true, "normalized": false, "special": false}]
            """);
        Assert.Equal([0, 2, 0], t.Encode("a  <m>  a"));
        Assert.Equal([3, 1, 0], t.Encode("xy a")); // a word of its own: the added token …
        Assert.Equal([0, 4, 5], t.Encode("axy"));  // … inside a word: left to the model, which has no merges
    }

    [Fact]
    public void Template_post_processor_is_adjusted_by_add_bos_and_add_eos_in_the_config()
    {
        const string post = """
            , "added_tokens": [{"id": 1, "content": "<s>", "special": true, "normalized": false}, {"id": 2, "content": "</s>", "special": true, "normalized": false}]
            , "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                                 "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
            """;
        const string model = """{"type": "BPE", "vocab": {"a": 0, "<s>": 1, "</s>": 2}, "merges": []}""";
        Assert.Equal([1, 0], Tiny(model, post).Encode("a"));
        Assert.Equal([0, 2], Tiny(model, post, """{"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": false, "add_eos_token": true}""").Encode("a"));
    }

    [Fact]
    public void Whitespace_and_digit_pre_tokenizers_split_as_in_tokenizers()
    {
        var t = Tiny("""{"type": "BPE", "vocab": {"a": 0, "1": 1, "2": 2, "!": 3, "12": 4}, "merges": ["1 2"]}""", """
            , "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "Digits", "individual_digits": true}]}
            """);
        Assert.Equal([0, 1, 2, 3, 0], t.Encode("a12 ! a"));
    }
}

/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ares-tok-").FullName;
    public string Write(string name, string text) { var p = System.IO.Path.Combine(Path, name); File.WriteAllText(p, text); return p; }
    public void Dispose() => Directory.Delete(Path, recursive: true);
}
