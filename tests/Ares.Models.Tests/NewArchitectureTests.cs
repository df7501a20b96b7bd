using Ares.Core.Formats;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Nn;
using Ares.Models.Training;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>
/// Qwen3, Phi-3 and sliding-window Mistral held to the float64 <see cref="ReferenceDecoder"/> on tiny
/// random-weight checkpoints the tests write: logits, greedy text with and without the KV cache,
/// batched and single, past the sliding window; scoring, LoRA training, save/reload and GGUF.
/// </summary>
public sealed class NewArchitectureTests : IDisposable
{
    readonly TempDirectory _tmp = new();
    public void Dispose() => _tmp.Dispose();

    /// <summary>Each kind's spec: windows of 4–6 are shorter than the 13-token sequences the tests use.</summary>
    static ReferenceSpec Spec(string kind, int? labels = null) => kind switch
    {
        "qwen3" => new() { Family = "qwen3", HeadDim = 16, Theta = 1e6, Labels = labels },  // head_dim ≠ hidden / heads
        "qwen3-window" => new() { Family = "qwen3", HeadDim = 16, Window = 4, WindowFromLayer = 1, Tied = true },
        "mistral-window" => new() { Family = "mistral", Window = 4, Eps = 1e-5 },
        "phi3" => new() { Family = "phi3", PartialRotary = 0.5, Window = 6, Eps = 1e-5 },
        "phi3-longrope" => new()
        {
            Family = "phi3", Eps = 1e-5, OriginalMaxPositions = 8, MaxPositions = 64,
            ShortFactor = [1.0, 1.3, 2.1, 3.7], LongFactor = [1.5, 2.5, 5.0, 9.0],
        },
        _ => throw new ArgumentException(kind),
    };

    public static TheoryData<string> Kinds => new() { "qwen3", "qwen3-window", "mistral-window", "phi3", "phi3-longrope" };

    static readonly int[] Long = [5, 17, 3, 42, 8, 29, 11, 60, 2, 33, 7, 19, 50]; // 13 tokens: past every window and LongRoPE's original 8

    static CausalLM LoadHf(string dir)
    {
        var config = HfModelLoader.ReadConfig(dir);
        using var weights = HfModelLoader.OpenWeights(dir);
        var m = HfModelLoader.Load(weights, config, ScalarType.Float32, dir);
        m.eval();
        return m;
    }

    static double MaxDiff(Tensor logits, double[][] reference)
    {
        var a = logits.to_type(ScalarType.Float64).reshape(reference.Length, reference[0].Length);
        double max = 0;
        for (int t = 0; t < reference.Length; t++)
        {
            var row = a[t].data<double>().ToArray();
            for (int v = 0; v < row.Length; v++) max = Math.Max(max, Math.Abs(row[v] - reference[t][v]));
        }
        return max;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Logits_match_the_float64_reference_within_and_past_the_window(string kind)
    {
        var ckpt = new TinyCheckpoint(Spec(kind));
        using var m = LoadHf(ckpt.WriteHf(_tmp.File(kind)));
        Assert.Equal(kind.Split('-')[0], m.Config.ModelType);
        foreach (var ids in new[] { Long[..6], Long })
        {
            using var logits = TinyModels.Logits(m, ids.Select(i => (long)i).ToArray());
            double diff = MaxDiff(logits, ckpt.Reference.Logits(ids));
            Assert.True(diff < 1e-4, $"{kind}, {ids.Length} tokens: max |Δ| = {diff}");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Greedy_text_matches_the_reference_cached_or_not_batched_or_single(string kind)
    {
        var ckpt = new TinyCheckpoint(Spec(kind));
        using var m = LoadHf(ckpt.WriteHf(_tmp.File(kind)));
        // LongRoPE switches factors when the sequence passes the original context; HF's cache keeps the
        // keys it already rotated, so the cached and uncached paths agree only once past it: start there.
        int[][] prompts = kind == "phi3-longrope" ? [Long[..9], Long[..11]] : [Long[..3], Long[..5]];
        const int steps = 9;                                  // 3 + 9 and 5 + 9 tokens: well past the window
        var expected = prompts.Select(p => ckpt.Reference.Greedy(p, steps)).ToArray();
        var gen = new TextGenerator(m, new IdTokenizer(ckpt.Spec.Vocab));
        foreach (bool cache in new[] { true, false })
        {
            var o = new GenerationOptions { MaxNewTokens = steps, Temperature = 0, StopIds = new HashSet<int>(), UseKvCache = cache };
            var batched = gen.Generate(prompts, o);                                       // left-padded batch
            for (int r = 0; r < prompts.Length; r++)
            {
                Assert.Equal(expected[r], batched[r].TokenIds);
                Assert.Equal(expected[r], gen.Generate([prompts[r]], o)[0].TokenIds);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Continuation_log_probs_of_a_right_padded_batch_match_the_reference(string kind)
    {
        var ckpt = new TinyCheckpoint(Spec(kind));
        using var m = LoadHf(ckpt.WriteHf(_tmp.File(kind)));
        int[][] prompts = [Long[..2], Long[..4]], continuations = [Long[2..], Long[4..9]];
        using var _ = no_grad();
        var (lp, mask) = SequenceScorer.ContinuationLogProbs(m, prompts, continuations);
        using (lp) using (mask)
            for (int r = 0; r < prompts.Length; r++)
            {
                var full = prompts[r].Concat(continuations[r]).ToArray();
                var logits = ckpt.Reference.Logits(full);
                for (int j = 0; j < continuations[r].Length; j++)
                {
                    var row = logits[prompts[r].Length + j - 1];
                    double max = row.Max(), lse = max + Math.Log(row.Sum(x => Math.Exp(x - max)));
                    double expected = row[continuations[r][j]] - lse;
                    Assert.True(Math.Abs(lp[r, j].item<float>() - expected) < 1e-4, $"{kind} row {r} token {j}: {lp[r, j].item<float>()} vs {expected}");
                }
            }
    }

    [Fact]
    public void Qwen3_reward_head_scores_a_padded_batch_as_the_reference_does()
    {
        var ckpt = new TinyCheckpoint(Spec("qwen3", labels: 1));
        using var m = LoadHf(ckpt.WriteHf(_tmp.File("rm")));
        Assert.Equal("Qwen3ForSequenceClassification", m.Config.HfArchitectureName);
        int[][] seqs = [Long[..5], Long, Long[..9]];
        using var _ = no_grad();
        using var scores = SequenceScorer.Scores(m, seqs);                              // (3, 1)
        for (int r = 0; r < seqs.Length; r++)
            Assert.True(Math.Abs(scores[r, 0].item<float>() - ckpt.Reference.Score(seqs[r])[0]) < 1e-4, $"row {r}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void LoRA_training_lowers_the_loss_and_the_model_saves_and_reloads_with_identical_logits(string kind)
    {
        var ckpt = new TinyCheckpoint(Spec(kind));
        using var m = LoadHf(ckpt.WriteHf(_tmp.File(kind)));
        string[] targets = kind.StartsWith("phi3", StringComparison.Ordinal) ? ["qkv_proj", "o_proj"] : ["q_proj", "v_proj"];
        LoraAdapters.Apply(m, new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0, TargetModules = targets });
        var losses = new List<double>();
        using (var trainer = new SftTrainer(m, new SftConfig { BatchSize = 4, MaxSteps = 12, LearningRate = 3e-2 }))
            trainer.Train(TrainingModels.CountingTask(8), (_, metrics) => losses.Add(metrics["loss"]));
        Assert.Equal(12, losses.Count);
        Assert.True(losses[^1] < losses[0] * 0.9, $"loss {losses[0]:F3} → {losses[^1]:F3}");
        m.eval();

        var saved = _tmp.File(kind + "-saved");
        HfModelSaver.Save(m, saved, TensorDType.F32, _ => { });                          // adapters merged into the weights
        using var reloaded = LoadHf(saved);
        Assert.Equal(m.Config.ToHfConfig().ToJsonString(), reloaded.Config.ToHfConfig().ToJsonString());
        var ids = Long.Select(i => (long)i).ToArray();
        using var a = TinyModels.Logits(m, ids);
        using var b = TinyModels.Logits(reloaded, ids);
        using var d = (a - b).abs().max();
        Assert.True(d.item<float>() < 1e-5, $"max |Δ| = {d.item<float>()}");
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("phi3")]
    [InlineData("phi3-longrope")]
    public void A_GGUF_written_as_llama_cpp_does_gives_the_logits_of_the_HF_directory(string kind)
    {
        var ckpt = new TinyCheckpoint(Spec(kind));
        using var hf = LoadHf(ckpt.WriteHf(_tmp.File(kind)));
        using var g = GgufFile.Open(ckpt.WriteGguf(_tmp.File(kind + ".gguf")));
        var config = GgufModelLoader.ReadConfig(g);
        Assert.Equal(hf.Config.HfArchitectureName, config.HfArchitectureName);
        Assert.Equal(hf.Config.HeadDim, config.HeadDim);
        Assert.Equal(hf.Config.RotaryDim, config.RotaryDim);
        Assert.Equal(hf.Config.SlidingWindow, config.SlidingWindow);
        using var gm = GgufModelLoader.Load(g, config, ScalarType.Float32);
        gm.eval();
        var ids = Long.Select(i => (long)i).ToArray();
        using var a = TinyModels.Logits(hf, ids);
        using var b = TinyModels.Logits(gm, ids);
        using var d = (a - b).abs().max();
        Assert.True(d.item<float>() < 1e-5, $"max |Δ| = {d.item<float>()}"); // the attention factor is stored as fp32 in GGUF
    }

    [Fact]
    public void The_window_mask_lets_query_i_see_key_j_iff_j_is_at_most_i_and_less_than_window_back()
    {
        using var valid = ones([1, 6], ScalarType.Bool);
        using var full = AttentionMath.Mask(valid, 6, window: 3);                   // (1, 1, 6, 6)
        using var step = AttentionMath.Mask(valid, 1, window: 3);                   // (1, 1, 1, 6): cached decode of the last token
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                Assert.Equal(j <= i && i - j < 3, full[0, 0, i, j].item<bool>());
        Assert.Equal(new[] { false, false, false, true, true, true }, Enumerable.Range(0, 6).Select(j => step[0, 0, 0, j].item<bool>()).ToArray());
    }

    [Fact]
    public void Qwen_sliding_window_binds_only_with_use_sliding_window_and_from_max_window_layers()
    {
        var on = new TinyCheckpoint(Spec("qwen3-window")).HfConfig();
        var c = TransformerConfig.FromHfConfig(on, "config.json");
        Assert.Equal(4, c.SlidingWindow);
        Assert.Equal(new int?[] { null, 4 }, Enumerable.Range(0, c.NumLayers).Select(c.WindowOf).ToArray());
        on["layer_types"] = new System.Text.Json.Nodes.JsonArray("full_attention", "sliding_attention");
        Assert.Equal(4, TransformerConfig.FromHfConfig(on, "config.json").WindowOf(1));
        on["layer_types"] = new System.Text.Json.Nodes.JsonArray("sliding_attention", "full_attention");
        Assert.Contains("layer_types", Assert.Throws<NotSupportedException>(() => TransformerConfig.FromHfConfig(on, "config.json")).Message);
        on.Remove("layer_types");
        on["use_sliding_window"] = false;                                           // real Qwen3 checkpoints
        Assert.Null(TransformerConfig.FromHfConfig(on, "config.json").SlidingWindow);
        var mistral = TransformerConfig.FromHfConfig(new TinyCheckpoint(Spec("mistral-window")).HfConfig(), "config.json");
        Assert.Equal(Architecture.Mistral, mistral.Architecture);
        Assert.Equal(64, mistral.MaxSequenceLength);                                 // the window no longer caps the context
    }

    [Fact]
    public void A_qwen3_checkpoint_without_its_q_norm_or_with_a_wrong_head_dim_is_refused_naming_the_tensor()
    {
        var ckpt = new TinyCheckpoint(Spec("qwen3"));
        ckpt.Weights.Remove("model.layers.1.self_attn.q_norm.weight");
        var e = Assert.Throws<ModelFormatException>(() => LoadHf(ckpt.WriteHf(_tmp.File("no-qnorm"))));
        Assert.Contains("missing tensors: model.layers.1.self_attn.q_norm.weight", e.Message);

        var dir = new TinyCheckpoint(Spec("qwen3")).WriteHf(_tmp.File("head-dim"));
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        config["head_dim"] = 8;                                                      // hidden / heads, but the weights have 16
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        e = Assert.Throws<ModelFormatException>(() => LoadHf(dir));
        Assert.Contains("'model.layers.0.self_attn.q_proj.weight' has shape [64, 32]", e.Message);
    }

    [Fact]
    public void Phi3_longrope_config_needs_both_factor_lists_of_rotary_dim_over_2()
    {
        var j = new TinyCheckpoint(Spec("phi3-longrope")).HfConfig();
        var c = TransformerConfig.FromHfConfig(j, "config.json");
        Assert.Equal(Math.Sqrt(1 + Math.Log(8) / Math.Log(8)), c.RopeLongRope!.AttentionFactor, 12);
        j["rope_scaling"]!["long_factor"] = new System.Text.Json.Nodes.JsonArray(1.0, 2.0);
        var e = Assert.Throws<NotSupportedException>(() => TransformerConfig.FromHfConfig(j, "config.json"));
        Assert.Contains("long_factor", e.Message);
        j["rope_scaling"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "yarn", ["factor"] = 2.0 };
        e = Assert.Throws<NotSupportedException>(() => TransformerConfig.FromHfConfig(j, "config.json"));
        Assert.Contains("'yarn'", e.Message);
    }
}
