using Ares.Models.Benchmarks;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>
/// The inference path (fused QKV and gate/up GEMMs, in-place residuals, no per-step masks, row
/// compaction) computes what the training path computes.
/// </summary>
public class FastInferenceTests
{
    static float MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    /// <summary>Logits through the autograd (training) path: the modules one by one, as training sees them.</summary>
    static Tensor TrainingPathLogits(CausalLM m, long[] ids)
    {
        using var input = tensor(ids).unsqueeze(0);                                  // (1, T)
        using var pos = ScalarOps.Arange(ids.Length).unsqueeze(0);
        using var h = m.Hidden(input, pos);
        return m.LmLogits(h).detach();                                               // (1, T, V)
    }

    /// <summary>Greedy decoding the slow way: the whole sequence through the training path at every step.</summary>
    static int[] ReferenceGreedy(CausalLM m, int[] prompt, int steps)
    {
        var ids = prompt.Select(x => (long)x).ToList();
        for (int s = 0; s < steps; s++)
        {
            using var logits = TrainingPathLogits(m, [.. ids]);
            ids.Add(logits[0, -1].argmax().item<long>());
        }
        return ids.Skip(prompt.Length).Select(x => (int)x).ToArray();
    }

    [Fact]
    public void The_inference_path_matches_the_training_path_with_grouped_query_heads()
    {
        using var m = TinyModels.Create(TinyModels.Llama());                         // 4 heads over 2 KV heads
        long[] ids = [5, 6, 7, 8, 9, 10, 11];
        using var slow = TrainingPathLogits(m, ids);
        using var fast = TinyModels.Logits(m, ids);                                  // under no_grad
        Assert.True(MaxDiff(slow, fast) < 1e-5f, $"max |Δ| = {MaxDiff(slow, fast)}");
    }

    [Fact]
    public void Fused_projections_see_in_place_weight_updates_and_step_aside_for_an_active_adapter()
    {
        using var m = TinyModels.Create(TinyModels.Qwen2());                         // with q/k/v biases
        long[] ids = [3, 4, 5, 6];
        using (no_grad())
            foreach (var (name, p) in m.named_parameters().Where(p => p.name.Contains("k_proj") || p.name.Contains("up_proj")))
                p.copy_(randn_like(p));                                              // as weight loading and optimizers write
        using (var slow = TrainingPathLogits(m, ids))
        using (var fast = TinyModels.Logits(m, ids))
            Assert.True(MaxDiff(slow, fast) < 1e-4f, $"after an update: max |Δ| = {MaxDiff(slow, fast)}");

        LoraAdapters.Apply(m, new LoraConfig { Rank = 2, Alpha = 4, Dropout = 0, TargetModules = ["v_proj", "gate_proj"] });
        using (no_grad())
            foreach (var (_, layer) in m.Linears().Where(l => l.Layer.HasAdapter)) layer.LoraB!.copy_(randn_like(layer.LoraB!));
        using var adapted = TrainingPathLogits(m, ids);
        using var adaptedFast = TinyModels.Logits(m, ids);
        Assert.True(MaxDiff(adapted, adaptedFast) < 1e-4f, $"with an adapter: max |Δ| = {MaxDiff(adapted, adaptedFast)}");
    }

    [Fact]
    public void Cached_batched_and_compacted_greedy_tokens_equal_the_uncached_training_path_reference()
    {
        using var m = TinyModels.Create(TinyModels.Llama(), seed: 3);
        var gen = new TextGenerator(m, new IdTokenizer(97));
        int[][] prompts = [[1, 20, 30], [1], [1, 40, 41, 42, 43]];
        var o = new GenerationOptions { MaxNewTokens = 12, Temperature = 0, StopIds = new HashSet<int>() };
        var reference = prompts.Select(p => ReferenceGreedy(m, p, o.MaxNewTokens)).ToArray();
        var cached = gen.Generate(prompts, o);
        var uncached = gen.Generate(prompts, o with { UseKvCache = false });
        for (int r = 0; r < prompts.Length; r++)
        {
            Assert.Equal(reference[r], cached[r].TokenIds);
            Assert.Equal(reference[r], uncached[r].TokenIds);
            Assert.Equal(reference[r], gen.Generate([prompts[r]], o)[0].TokenIds);
        }
        // A stop token that ends row 0 early: the finished row is dropped from the batch (the cache
        // compacted) and the others still produce exactly their reference tokens.
        int stop = reference[0][2];
        var stopped = gen.Generate(prompts, o with { StopIds = new HashSet<int> { stop } });
        for (int r = 0; r < prompts.Length; r++)
        {
            int at = Array.IndexOf(reference[r], stop);
            Assert.Equal(at >= 0 ? reference[r].Take(at + 1) : reference[r], stopped[r].TokenIds);
        }
        Assert.Equal("stop", stopped[0].FinishReason);
    }

    [Fact]
    public void Seeded_sampling_draws_the_same_tokens_whether_or_not_finished_rows_were_dropped()
    {
        using var m = TinyModels.Create(TinyModels.Llama(), seed: 4);
        var gen = new TextGenerator(m, new IdTokenizer(97));
        int[][] prompts = [[1, 2], [1, 3], [1, 4], [1, 5]];
        var o = new GenerationOptions { MaxNewTokens = 10, Temperature = 1, Seed = 11, StopIds = new HashSet<int>() };
        var free = gen.Generate(prompts, o);
        int stop = free[0].TokenIds[1];
        var stopped = gen.Generate(prompts, o with { StopIds = new HashSet<int> { stop } });
        for (int r = 0; r < prompts.Length; r++)
        {
            int at = Array.IndexOf(free[r].TokenIds, stop);
            Assert.Equal(at >= 0 ? free[r].TokenIds.Take(at + 1) : free[r].TokenIds, stopped[r].TokenIds);
        }
    }

    [Fact]
    public void The_bench_model_file_loads_and_the_generation_bench_reports_positive_rates()
    {
        using var dir = new TempDirectory();
        string path = dir.File("bench.gguf");
        var c = BenchModelFile.Issue30M with { VocabSize = 300, HiddenSize = 64, IntermediateSize = 96, NumLayers = 2, NumHeads = 4, NumKvHeads = 4, HeadDim = 16 };
        BenchModelFile.Write(path, c);
        using var loaded = ModelLoader.Load(path);
        Assert.Equal((300, 64, 2, true), (loaded.Config.VocabSize, loaded.Config.HiddenSize, loaded.Config.NumLayers, loaded.Config.TieWordEmbeddings));
        Assert.Equal(300, loaded.Tokenizer.VocabSize);
        var embed = loaded.Model.named_parameters().Single(p => p.name == "model.embed_tokens.weight").parameter;
        Assert.InRange(embed.std().item<float>(), 0.018f, 0.022f);                   // normal(0, 0.02)
        var res = GenerationBenchmark.Run(loaded.Model, new GenerationShape(3, 5, 4), rounds: 2, warmUp: TimeSpan.Zero);
        Assert.True(res.PrefillTokensPerSecond.Min > 0 && res.GenTokensPerSecond.Min > 0);
        Assert.True(res.GenTokensPerSecond.Min <= res.GenTokensPerSecond.Median && res.GenTokensPerSecond.Median <= res.GenTokensPerSecond.Max);
    }

    [Fact]
    public void Generation_timings_count_the_prompt_once_and_every_decode_step()
    {
        using var m = TinyModels.Create(TinyModels.Llama());
        var gen = new TextGenerator(m, new IdTokenizer(97));
        gen.Generate([[1, 2, 3], [4, 5, 6]], new GenerationOptions { MaxNewTokens = 6, Temperature = 0, StopIds = new HashSet<int>() });
        var t = gen.LastTimings!;
        Assert.Equal((6, 5, 10), (t.PrefillTokens, t.DecodeSteps, t.DecodeTokens));
        Assert.True(t.PrefillSeconds > 0 && t.DecodeSeconds > 0);
    }

    [Fact]
    public void Rate_stats_take_the_median_of_an_even_count_as_the_mean_of_the_middle_two()
    {
        Assert.Equal(new RateStats(2.5, 1, 9), RateStats.Of([9, 1, 2, 3]));
        Assert.Equal(new RateStats(3, 1, 9), RateStats.Of([9, 3, 1]));
    }
}
