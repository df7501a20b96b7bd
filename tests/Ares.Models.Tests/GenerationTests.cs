using Ares.Core.Formats;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class GenerationTests
{
    static CausalLM Stories()
    {
        using var g = GgufFile.Open(Fixtures.Stories260KGguf);
        return GgufModelLoader.Load(g, GgufModelLoader.ReadConfig(g), ScalarType.Float32);
    }

    static readonly GenerationOptions Greedy = new() { MaxNewTokens = 40, Temperature = 0, StopIds = new HashSet<int>() };

    [Fact]
    public void Greedy_output_is_identical_with_and_without_the_KV_cache()
    {
        using var model = Stories();
        var gen = new TextGenerator(model, new IdTokenizer(512));
        int[][] prompts = [[1], [1, 403, 407, 261, 378]];
        var cached = gen.Generate(prompts, Greedy);
        var uncached = gen.Generate(prompts, Greedy with { UseKvCache = false });
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(uncached[i].TokenIds, cached[i].TokenIds);
            Assert.Equal(uncached[i].LogProbs, cached[i].LogProbs, (a, b) => Math.Abs(a - b) < 1e-4);
        }
    }

    [Fact]
    public void A_left_padded_batch_generates_what_each_prompt_generates_alone()
    {
        using var model = Stories();
        var gen = new TextGenerator(model, new IdTokenizer(512));
        int[][] prompts = [[1], [1, 403, 407, 261, 378], [1, 403, 407]];
        var batched = gen.Generate(prompts, Greedy);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = gen.Generate([prompts[i]], Greedy)[0];
            Assert.Equal(alone.TokenIds, batched[i].TokenIds);
            Assert.Equal(alone.LogProbs, batched[i].LogProbs, (a, b) => Math.Abs(a - b) < 1e-4);
        }
    }

    [Fact]
    public void Sampling_is_reproducible_by_seed_and_logprobs_match_scoring()
    {
        using var model = Stories();
        var gen = new TextGenerator(model, new IdTokenizer(512));
        var o = new GenerationOptions { MaxNewTokens = 20, Temperature = 0.8, TopK = 40, TopP = 0.9, Seed = 7, StopIds = new HashSet<int>() };
        var a = gen.Generate([[1], [1, 403]], o);
        var b = gen.Generate([[1], [1, 403]], o);
        Assert.Equal(a[0].TokenIds, b[0].TokenIds);
        Assert.Equal(a[1].TokenIds, b[1].TokenIds);
        // The reported log-probs are the model's own (T = 1) log-probs of the sampled tokens.
        using var _ = no_grad();
        var (lp, mask) = SequenceScorer.ContinuationLogProbs(model, [[1], [1, 403]], [a[0].TokenIds, a[1].TokenIds]);
        using (lp) using (mask)
            for (int r = 0; r < 2; r++)
                for (int j = 0; j < a[r].LogProbs.Length; j++)
                    Assert.Equal(a[r].LogProbs[j], lp[r, j].item<float>(), 1e-3f);
    }

    [Fact]
    public void Stop_tokens_and_stop_strings_end_each_row_independently()
    {
        using var model = Stories();
        var gen = new TextGenerator(model, new IdTokenizer(512));
        var free = gen.Generate([[1]], Greedy)[0];
        int stopAt = free.TokenIds[5];
        var stopped = gen.Generate([[1]], Greedy with { StopIds = new HashSet<int> { stopAt } })[0];
        Assert.Equal("stop", stopped.FinishReason);
        Assert.Equal(free.TokenIds.Take(Array.IndexOf(free.TokenIds, stopAt) + 1), stopped.TokenIds);
        Assert.DoesNotContain(stopAt.ToString(), stopped.Text.Split(' ').TakeLast(1));
        var byString = gen.Generate([[1]], Greedy with { StopStrings = [$" {free.TokenIds[3]} "] })[0];
        Assert.Equal("stop_string", byString.FinishReason);
        Assert.Equal(string.Join(' ', free.TokenIds.Take(3)), byString.Text);
    }

    [Fact]
    public void Continuation_logprobs_match_a_manual_full_forward()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        int[][] prompts = [[5, 6, 7], [9]];
        int[][] conts = [[11, 12], [13, 14, 15, 16]];
        using var _ = no_grad();
        var (lp, mask) = SequenceScorer.ContinuationLogProbs(model, prompts, conts);
        for (int r = 0; r < 2; r++)
        {
            var full = prompts[r].Concat(conts[r]).Select(x => (long)x).ToArray();
            using var logits = TinyModels.Logits(model, full);                       // (1, T, V)
            using var logp = logits.log_softmax(-1);
            for (int j = 0; j < conts[r].Length; j++)
                Assert.Equal(logp[0, prompts[r].Length + j - 1, conts[r][j]].item<float>(), lp[r, j].item<float>(), 1e-5f);
            for (int j = conts[r].Length; j < 4; j++) Assert.False(mask[r, j].item<bool>());
        }
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void The_reward_head_scores_the_last_real_token_of_each_padded_sequence(string arch)
    {
        var c = arch == "gpt2" ? TinyModels.Gpt2(labels: 1) : TinyModels.Llama(labels: 1);
        using var model = TinyModels.Create(c);
        int[][] seqs = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]];
        using var _ = no_grad();
        using var batched = SequenceScorer.Scores(model, seqs);                       // (3, 1)
        for (int r = 0; r < seqs.Length; r++)
        {
            using var alone = TinyModels.Logits(model, seqs[r].Select(x => (long)x).ToArray()); // (1, T, 1)
            Assert.Equal(alone[0, -1, 0].item<float>(), batched[r, 0].item<float>(), 1e-5f);
            // …and not an earlier token's score.
            if (seqs[r].Length > 1) Assert.NotEqual(alone[0, -2, 0].item<float>(), batched[r, 0].item<float>());
        }
    }

    [Fact]
    public void Generation_and_scoring_leak_no_tensors()
    {
        using var model = Stories();
        var gen = new TextGenerator(model, new IdTokenizer(512));
        var o = Greedy with { MaxNewTokens = 8 };
        gen.Generate([[1], [1, 403]], o); // warm-up
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++)
        {
            gen.Generate([[1], [1, 403]], o with { MaxNewTokens = 8 + i });
            using var _ = no_grad();
            SequenceScorer.SumLogProbs(model, [[1]], [[403, 407]]).Dispose();
        }
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
    }
}
