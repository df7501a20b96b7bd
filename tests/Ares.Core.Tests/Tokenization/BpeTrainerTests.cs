using System.Text;
using Ares.Core.Tokenization;

namespace Ares.Core.Tests.Tokenization;

public class BpeTrainerTests
{
    static readonly string[] Specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

    /// <summary>A small corpus with the repetition real chat data has.</summary>
    static IEnumerable<string> Corpus()
    {
        string[] dishes = ["pancakes", "fried rice", "banana bread", "a tomato sauce"];
        string[] places = ["Lisbon", "Oslo", "Kyoto", "Vienna"];
        for (int i = 0; i < 40; i++)
        {
            yield return $"How do I make {dishes[i % 4]}? Sure! To make {dishes[i % 4]}, mix everything and cook it slowly.";
            yield return $"What should I pack for a trip to {places[i % 4]}? Pack comfortable shoes and a light jacket.";
            yield return $"What is {i} plus {i * 3}? {i} plus {i * 3} is {i * 4}.";
        }
    }

    static HfTokenizer Saved(TrainedBpe bpe, TempDirectory dir)
    {
        bpe.Save(dir.Path, new TokenizerFileOptions { EosToken = "<|im_end|>", PadToken = "<|endoftext|>", ChatTemplate = ChatTemplates.ChatMLJinja });
        return HfTokenizer.Load(dir.Path);
    }

    [Fact]
    public void Merges_are_the_most_frequent_pairs_in_order()
    {
        // Pre-tokens: "ab" ×1, "Ġab" ×2, "Ġcd" ×1. Pair counts: (a,b) 3, (Ġ,a) 2, (Ġ,c) 1, (c,d) 1.
        // After merging (a,b): (Ġ,ab) 2. Then every pair occurs once, below the minimum frequency 2.
        var bpe = BpeTrainer.Train(["ab ab ab cd"], new BpeTrainingOptions { VocabSize = 300, MinFrequency = 2 });
        Assert.Equal([("a", "b"), ("Ġ", "ab")], bpe.Merges);
        Assert.Equal(258, bpe.VocabSize);
        Assert.Equal("Ġab", bpe.Tokens[257]);
    }

    [Fact]
    public void Training_stops_at_the_requested_vocabulary_size_and_is_deterministic()
    {
        var options = new BpeTrainingOptions { VocabSize = 300, SpecialTokens = Specials };
        var a = BpeTrainer.Train(Corpus(), options);
        var b = BpeTrainer.Train(Corpus(), options);
        Assert.Equal(300, a.VocabSize);
        Assert.Equal(300 - 256 - 3, a.Merges.Count);
        Assert.Equal(a.Merges, b.Merges);
        Assert.Equal(299, a.SpecialId("<|im_end|>"));
    }

    [Fact]
    public void Saved_files_load_as_an_HF_tokenizer_with_ChatML_and_special_tokens()
    {
        using var dir = new TempDirectory();
        var bpe = BpeTrainer.Train(Corpus(), new BpeTrainingOptions { VocabSize = 400, SpecialTokens = Specials });
        var t = Saved(bpe, dir);
        Assert.Equal(400, t.VocabSize);
        Assert.Contains("byte-level", t.Kind);
        Assert.Equal(bpe.SpecialId("<|im_end|>"), t.EosId);
        Assert.Equal(bpe.SpecialId("<|endoftext|>"), t.PadId);
        Assert.Null(t.BosId);
        Assert.Contains(bpe.SpecialId("<|im_end|>"), t.StopIds);
        Assert.True(t.IsSpecial(bpe.SpecialId("<|im_start|>")));
        var template = ChatTemplates.Detect(t.ChatTemplate);
        Assert.Equal(ChatFormat.ChatML, template.Family);
        Assert.Null(template.DefaultSystemPrompt);
        string chat = template.Format([new ChatMessage("user", "How do I make pancakes?")], addGenerationPrompt: true);
        Assert.Equal("<|im_start|>user\nHow do I make pancakes?<|im_end|>\n<|im_start|>assistant\n", chat);
        var ids = t.Encode(chat, addSpecialTokens: false);
        Assert.Equal(bpe.SpecialId("<|im_start|>"), ids[0]);
        Assert.Equal(2, ids.Count(i => i == bpe.SpecialId("<|im_start|>")));
        Assert.Equal(chat, t.Decode(ids, skipSpecialTokens: false));
        Assert.Equal("user\nHow do I make pancakes?\nassistant\n", t.Decode(ids));
    }

    [Theory]
    [InlineData("How do I make banana bread? Sure! To make banana bread, mix everything and cook it slowly.")]
    [InlineData("Crème brûlée, naïve café — 日本語のテキスト 🙂👍🏽 and tabs\tand\nnewlines  with  double spaces")]
    [InlineData("")]
    [InlineData("   leading and trailing   ")]
    public void Text_round_trips_through_encode_and_decode(string text)
    {
        using var dir = new TempDirectory();
        var t = Saved(BpeTrainer.Train(Corpus(), new BpeTrainingOptions { VocabSize = 400, SpecialTokens = Specials }), dir);
        Assert.Equal(text, t.Decode(t.Encode(text)));
    }

    [Fact]
    public void More_merges_give_shorter_encodings()
    {
        string text = string.Join("\n", Corpus());
        int bytes = Encoding.UTF8.GetByteCount(text);
        int Tokens(int vocab)
        {
            using var dir = new TempDirectory();
            return Saved(BpeTrainer.Train(Corpus(), new BpeTrainingOptions { VocabSize = vocab, SpecialTokens = Specials }), dir).Encode(text).Length;
        }
        int none = Tokens(259), some = Tokens(300), many = Tokens(500);
        Assert.Equal(bytes, none);                                   // no merges: one token per byte
        Assert.True(many < some && some < none && many < bytes / 3, $"{none} → {some} → {many} tokens for {bytes} bytes");
        using var dir = new TempDirectory();
        var t = Saved(BpeTrainer.Train(Corpus(), new BpeTrainingOptions { VocabSize = 500, SpecialTokens = Specials }), dir);
        // Unseen words still encode, byte by byte at worst.
        Assert.Equal(Encoding.UTF8.GetByteCount("ẞ"), t.Encode("ẞ").Length);
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentException>(() => BpeTrainer.Train(["x"], new BpeTrainingOptions { VocabSize = 100 }));
        Assert.Throws<ArgumentException>(() => BpeTrainer.Train(["x"], new BpeTrainingOptions { SpecialTokens = ["<a>", "<a>"] }));
        Assert.Throws<ArgumentException>(() => BpeTrainer.Train(["x"], new BpeTrainingOptions { MinFrequency = 0 }));
        var bpe = BpeTrainer.Train(["x"], new BpeTrainingOptions { SpecialTokens = Specials });
        Assert.Throws<ArgumentException>(() => bpe.TokenizerConfig(new TokenizerFileOptions { EosToken = "<eos>" }));
    }

    [Fact]
    public void Special_tokens_in_the_corpus_are_never_merged_into()
    {
        var bpe = BpeTrainer.Train(Enumerable.Repeat("<|im_start|>user\nhi<|im_end|>\n", 50), new BpeTrainingOptions { VocabSize = 300, SpecialTokens = Specials });
        Assert.DoesNotContain(bpe.Tokens, t => t.Contains("<|") || t.Contains("|>"));
    }
}
