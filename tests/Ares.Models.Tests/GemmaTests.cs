using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Nn;
using Ares.Models.Training;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public sealed class GemmaTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"ares-gemma-{Guid.NewGuid():N}");
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }

    /// <summary>
    /// Tiny Gemma 2: 4 layers (sliding, global, sliding, global), window 4, head_dim 16 ≠ hidden/heads,
    /// query_pre_attn_scalar 24 ≠ head_dim, and soft-caps small enough to bite on these weights.
    /// </summary>
    internal static TransformerConfig Gemma2(int vocab = 97, int? labels = null, bool tied = true) => new()
    {
        Architecture = Architecture.Gemma2, VocabSize = vocab, HiddenSize = 32, IntermediateSize = 48, NumLayers = 4,
        NumHeads = 4, NumKvHeads = 2, HeadDim = 16, MaxPositions = 128, NormEps = 1e-6, RopeTheta = 10000,
        TieWordEmbeddings = tied, NumLabels = labels, HiddenAct = "gelu_pytorch_tanh",
        SlidingWindow = 4, SlidingLayers = [true, false, true, false], QueryPreAttnScalar = 24,
        AttnLogitSoftcap = 0.5, FinalLogitSoftcap = 2.0,
    };

    /// <summary>Tiny Gemma 3: q/k norms, local rope base 10⁴ on sliding layers, global base 10⁶ with linear scaling ×2, no caps.</summary>
    internal static TransformerConfig Gemma3(int vocab = 97, int? labels = null) => Gemma2(vocab, labels) with
    {
        Architecture = Architecture.Gemma3,
        NumLayers = 3,
        SlidingLayers = [true, true, false],
        QueryPreAttnScalar = 20,
        RopeTheta = 1e6,
        RopeLinearFactor = 2,
        RopeLocalTheta = 10000,
        AttnLogitSoftcap = null,
        FinalLogitSoftcap = null,
    };

    static TransformerConfig Config(string kind) => kind switch
    {
        "gemma2" => Gemma2(),
        "gemma2-untied" => Gemma2(tied: false),
        "gemma2-rm" => Gemma2(labels: 2),
        "gemma3" => Gemma3(),
        _ => Gemma3() with { FinalLogitSoftcap = 2.0, AttnLogitSoftcap = 0.5 },
    };

    /// <summary>TinyModels.Create with the embedding scaled to unit variance, so that logits are large enough for the final cap to matter.</summary>
    internal static CausalLM Create(TransformerConfig c, long seed = 0)
    {
        var m = TinyModels.Create(c, seed);
        using (no_grad())
            foreach (var (name, p) in m.named_parameters())
                if (name == "model.embed_tokens.weight") p.mul_(50);
        return m;
    }

    static Dictionary<string, double[]> Weights(CausalLM m) =>
        m.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().to_type(ScalarType.Float64).contiguous().data<double>().ToArray());

    static float MaxAbsDiff(Tensor a, Tensor b) { using var d = (a - b).abs().max(); return d.item<float>(); }

    static double MaxAbsDiff(double[][] a, double[][] b) => a.Zip(b).Max(r => r.First.Zip(r.Second).Max(x => Math.Abs(x.First - x.Second)));

    static CausalLM SaveAndLoad(CausalLM model, string dir)
    {
        HfModelSaver.Save(model, dir, TensorDType.F32, _ => { });
        var config = HfModelLoader.ReadConfig(dir);
        using var weights = HfModelLoader.OpenWeights(dir);
        var loaded = HfModelLoader.Load(weights, config, ScalarType.Float32, dir);
        loaded.eval();
        return loaded;
    }

    static readonly int[] Probe = [2, 14, 15, 92, 65, 35, 89, 79, 3, 23, 84, 62];

    [Theory]
    [InlineData("gemma2")]
    [InlineData("gemma2-untied")]
    [InlineData("gemma2-rm")]
    [InlineData("gemma3")]
    [InlineData("gemma3-capped")]
    public void Logits_of_a_tiny_HF_directory_match_the_float64_reference(string kind)
    {
        var c = Config(kind);
        using var model = Create(c, seed: 11);
        using var loaded = SaveAndLoad(model, _dir);
        var w = Weights(model);
        var reference = GemmaReference.Forward(GemmaRefConfig.From(c), w, Probe);
        using var logits = TinyModels.Logits(loaded, Probe.Select(x => (long)x).ToArray());  // (1, T, V)
        var ares = Enumerable.Range(0, Probe.Length).Select(t => logits[0, t].to_type(ScalarType.Float64).data<double>().ToArray()).ToArray();
        Assert.InRange(MaxAbsDiff(reference, ares), 0, 1e-4);

        // The comparison has teeth: the window (4 < 12 tokens) and, where set, each cap change the reference's logits.
        var rc = GemmaRefConfig.From(c);
        Assert.True(MaxAbsDiff(reference, GemmaReference.Forward(rc with { Window = null }, w, Probe)) > 1e-3);
        if (c.AttnLogitSoftcap is not null) Assert.True(MaxAbsDiff(reference, GemmaReference.Forward(rc with { AttnCap = null }, w, Probe)) > 1e-3);
        if (c.FinalLogitSoftcap is not null && c.NumLabels is null) Assert.True(MaxAbsDiff(reference, GemmaReference.Forward(rc with { FinalCap = null }, w, Probe)) > 1e-2);
        if (c.Architecture == Architecture.Gemma3)
            Assert.True(MaxAbsDiff(reference, GemmaReference.Forward(rc with { LocalTheta = rc.GlobalTheta }, w, Probe)) > 1e-3);
    }

    static readonly GenerationOptions Greedy = new() { MaxNewTokens = 14, Temperature = 0, StopIds = new HashSet<int>() };

    [Theory]
    [InlineData("gemma2")]
    [InlineData("gemma3")]
    public void Greedy_text_is_the_same_with_and_without_the_cache_and_batched_past_the_window(string kind)
    {
        using var model = Create(Config(kind), seed: 5);
        var gen = new TextGenerator(model, new IdTokenizer(97));
        int[][] prompts = [[2, 40], [2, 14, 15, 92, 65, 35], [2, 7, 8]];    // + 14 new tokens: far past the window of 4
        var cached = gen.Generate(prompts, Greedy);
        var uncached = gen.Generate(prompts, Greedy with { UseKvCache = false });
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = gen.Generate([prompts[i]], Greedy)[0];
            Assert.Equal(14, cached[i].TokenIds.Length);
            Assert.Equal(uncached[i].TokenIds, cached[i].TokenIds);
            Assert.Equal(alone.TokenIds, cached[i].TokenIds);
            Assert.Equal(alone.LogProbs, cached[i].LogProbs, (a, b) => Math.Abs(a - b) < 1e-4);
            Assert.Equal(uncached[i].LogProbs, cached[i].LogProbs, (a, b) => Math.Abs(a - b) < 1e-4);
        }
        // Greedy generation is the reference's argmax, step by step, on the longest prompt.
        var seq = prompts[1].Concat(cached[1].TokenIds).ToArray();
        var reference = GemmaReference.Forward(GemmaRefConfig.From(model.Config), Weights(model), seq[..^1]);
        for (int t = prompts[1].Length - 1; t < seq.Length - 1; t++)
            Assert.Equal(Array.IndexOf(reference[t], reference[t].Max()), seq[t + 1]);
    }

    [Theory]
    [InlineData("gemma2")]
    [InlineData("gemma3")]
    public void A_tiny_HF_directory_loads_generates_scores_trains_LoRA_and_round_trips(string kind)
    {
        var c = Config(kind);
        using (var model = Create(c, seed: 3))
            HfModelSaver.Save(model, _dir, TensorDType.F32, dir =>
            {
                foreach (var f in Directory.GetFiles(Path.Combine(Fixtures.Tokenizers, "mistral"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            });
        // The mistral tokenizer has 32000 ids; ids beyond the model's 97 never occur below (prompts are ids).
        var json = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!;
        Assert.Equal(c.ModelType, json["model_type"]!.GetValue<string>());
        Assert.Equal(c.HfArchitectureName, json["architectures"]![0]!.GetValue<string>());
        using var m = ModelLoader.Load(_dir);
        Assert.Equal(c.ToHfConfig().ToJsonString(), m.Config.ToHfConfig().ToJsonString());

        var gen = new TextGenerator(m.Model, new IdTokenizer(97));
        var r = gen.Generate([[2, 40, 41]], Greedy with { MaxNewTokens = 6 })[0];
        Assert.Equal(6, r.TokenIds.Length);
        using (var lp = SequenceScorer.SumLogProbs(m.Model, [[2, 40, 41]], [r.TokenIds]))
            Assert.Equal(r.LogProbs.Sum(), lp[0].item<float>(), 1e-3f);

        LoraAdapters.Apply(m.Model, new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0, TargetModules = ["q_proj", "v_proj", "o_proj", "gate_proj"] });
        var losses = new List<double>();
        using (var trainer = new SftTrainer(m.Model, new SftConfig { BatchSize = 4, MaxSteps = 8, LearningRate = 1e-2 }))
            trainer.Train(TrainingModels.CountingTask(8), (_, metrics) => losses.Add(metrics["loss"]));
        Assert.Equal(8, losses.Count);
        Assert.True(losses[^1] < losses[0] * 0.9, $"loss {losses[0]:F3} → {losses[^1]:F3}");
        m.Model.eval();

        var saved = _dir + "-saved";
        try
        {
            HfModelSaver.Save(m, saved);
            using var reloaded = ModelLoader.Load(saved);
            long[] ids = [2, 5, 6, 7, 8, 9, 10, 11];
            using var a = TinyModels.Logits(m.Model, ids);
            using var b = TinyModels.Logits(reloaded.Model, ids);
            Assert.InRange(MaxAbsDiff(a, b), 0, 1e-5f);                                 // adapters merged on save
            LoraAdapters.Merge(m.Model);
            using var merged = TinyModels.Logits(m.Model, ids);
            Assert.Equal(0f, MaxAbsDiff(merged, b));
        }
        finally { if (Directory.Exists(saved)) Directory.Delete(saved, recursive: true); }
    }

    [Theory]
    [InlineData("gemma2")]
    [InlineData("gemma3")]
    public void Bf16_compute_stays_close_to_fp32(string kind)
    {
        using var model = Create(Config(kind), seed: 6);
        HfModelSaver.Save(model, _dir, TensorDType.BF16, _ => { });
        var config = HfModelLoader.ReadConfig(_dir);
        using var weights = HfModelLoader.OpenWeights(_dir);
        using var f32 = HfModelLoader.Load(weights, config, ScalarType.Float32, _dir);
        using var bf16 = HfModelLoader.Load(weights, config, ScalarType.BFloat16, _dir);
        f32.eval(); bf16.eval();
        var ids = Probe.Select(x => (long)x).ToArray();
        using var a = TinyModels.Logits(f32, ids);
        using var b = TinyModels.Logits(bf16, ids);
        Assert.Equal(ScalarType.BFloat16, b.dtype);
        using var bf = b.to_type(ScalarType.Float32);
        Assert.InRange(MaxAbsDiff(a, bf), 0, 0.15f);
    }

    [Fact]
    public void The_Gemma2_reward_head_scores_the_last_real_token_of_each_padded_sequence()
    {
        using var model = Create(Gemma2(labels: 1), seed: 2);
        using var loaded = SaveAndLoad(model, _dir);
        Assert.Equal("Gemma2ForSequenceClassification", loaded.Config.HfArchitectureName);
        Assert.False(loaded.HasLmHead);
        int[][] seqs = [[3, 4, 5, 6, 7, 8, 9], [8, 9], [10, 11, 12]];
        using var _ = no_grad();
        using var batched = SequenceScorer.Scores(loaded, seqs);                      // (3, 1)
        for (int r = 0; r < seqs.Length; r++)
        {
            var reference = GemmaReference.Forward(GemmaRefConfig.From(loaded.Config), Weights(model), seqs[r]);
            Assert.Equal(reference[^1][0], batched[r, 0].item<float>(), 1e-4);
        }
    }

    [Theory]
    [InlineData("gemma2")]
    [InlineData("gemma3")]
    public void A_GGUF_written_the_way_llama_cpp_converts_loads_with_the_HF_logits(string kind)
    {
        // llama.cpp's converter: no query_pre_attn_scalar key (it uses head_dim below 27B), norms stored as 1 + w, tied output.
        var c = Config(kind) with { QueryPreAttnScalar = 16 };
        if (c.Architecture == Architecture.Gemma3) c = c with { SlidingLayers = [true, true, true, true, true, false], NumLayers = 6, RopeLinearFactor = 1 };
        using var model = Create(c, seed: 4);
        string arch = kind, path = Path.Combine(Path.GetTempPath(), $"ares-gemma-{Guid.NewGuid():N}.gguf");
        var meta = new List<KeyValuePair<string, object>>
        {
            new("general.architecture", arch), new($"{arch}.context_length", (uint)c.MaxPositions),
            new($"{arch}.embedding_length", (uint)c.HiddenSize), new($"{arch}.block_count", (uint)c.NumLayers),
            new($"{arch}.feed_forward_length", (uint)c.IntermediateSize), new($"{arch}.attention.head_count", (uint)c.NumHeads),
            new($"{arch}.attention.head_count_kv", (uint)c.NumKvHeads), new($"{arch}.attention.key_length", (uint)c.HeadDim),
            new($"{arch}.attention.value_length", (uint)c.HeadDim), new($"{arch}.attention.layer_norm_rms_epsilon", (float)c.NormEps),
            new($"{arch}.attention.sliding_window", (uint)c.SlidingWindow!.Value), new($"{arch}.rope.freq_base", (float)c.RopeTheta),
        };
        if (c.AttnLogitSoftcap is double ac) meta.Add(new($"{arch}.attn_logit_softcapping", (float)ac));
        if (c.FinalLogitSoftcap is double fc) meta.Add(new($"{arch}.final_logit_softcapping", (float)fc));
        var tensors = model.named_parameters().Select(p =>
        {
            string name = GgufModelLoader.GgufName(p.name, c.Architecture) ?? throw new InvalidOperationException(p.name);
            using var t = name.EndsWith("norm.weight", StringComparison.Ordinal) ? p.parameter.detach().Plus(1.0) : p.parameter.detach().clone();
            var bytes = t.contiguous().bytes.ToArray();
            return TensorToWrite.FromBytes(name, TensorDType.F32, p.parameter.shape, bytes);
        }).ToList();
        try
        {
            GgufWriter.Write(path, meta, tensors);
            using var g = GgufFile.Open(path);
            var config = GgufModelLoader.ReadConfig(g);
            Assert.Equal(c.ToHfConfig().ToJsonString(), config.ToHfConfig().ToJsonString());
            using var fromGguf = GgufModelLoader.Load(g, config, ScalarType.Float32);
            fromGguf.eval();
            using var fromHf = SaveAndLoad(model, _dir);
            var ids = Probe.Select(x => (long)x).ToArray();
            using var a = TinyModels.Logits(fromHf, ids);
            using var b = TinyModels.Logits(fromGguf, ids);
            Assert.InRange(MaxAbsDiff(a, b), 0, 1e-5f); // (1 + w) − 1 rounds in fp32: not bit-exact
        }
        finally { File.Delete(path); }
    }

    static JsonObject HfConfig(string modelType, int layers, Action<JsonObject>? edit = null)
    {
        var j = new JsonObject
        {
            ["model_type"] = modelType, ["architectures"] = new JsonArray(modelType == "gemma2" ? "Gemma2ForCausalLM" : "Gemma3ForCausalLM"),
            ["vocab_size"] = 97, ["hidden_size"] = 32, ["intermediate_size"] = 48, ["num_hidden_layers"] = layers,
            ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2, ["head_dim"] = 16,
        };
        edit?.Invoke(j);
        return j;
    }

    [Fact]
    public void Config_defaults_follow_transformers()
    {
        var g2 = TransformerConfig.FromHfConfig(HfConfig("gemma2", 4), "config.json");
        Assert.Equal([true, false, true, false], g2.SlidingLayers!);
        Assert.Equal((50.0, 30.0, 256.0, 4096), (g2.AttnLogitSoftcap!.Value, g2.FinalLogitSoftcap!.Value, g2.QueryPreAttnScalar!.Value, g2.SlidingWindow!.Value));
        Assert.True(g2.TieWordEmbeddings);
        Assert.Equal(g2.MaxPositions, g2.MaxSequenceLength);                        // windows are implemented: no cut at 4096
        var g3 = TransformerConfig.FromHfConfig(HfConfig("gemma3_text", 12), "config.json");
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i != 5 && i != 11), g3.SlidingLayers!);
        Assert.Equal((1e6, 10000.0), (g3.RopeTheta, g3.RopeLocalTheta!.Value));
        Assert.Null(g3.AttnLogitSoftcap);
        Assert.Null(g3.FinalLogitSoftcap);
        var nullCaps = TransformerConfig.FromHfConfig(HfConfig("gemma2", 2, j => { j["attn_logit_softcapping"] = null; j["final_logit_softcapping"] = null; }), "config.json");
        Assert.Null(nullCaps.AttnLogitSoftcap);
        Assert.Null(nullCaps.FinalLogitSoftcap);
        var v5 = TransformerConfig.FromHfConfig(HfConfig("gemma3_text", 2, j =>
        {
            j["layer_types"] = new JsonArray("sliding_attention", "full_attention");
            j["rope_parameters"] = new JsonObject
            {
                ["full_attention"] = new JsonObject { ["rope_type"] = "linear", ["factor"] = 8.0, ["rope_theta"] = 1e6 },
                ["sliding_attention"] = new JsonObject { ["rope_type"] = "default", ["rope_theta"] = 10000.0 },
            };
        }), "config.json");
        Assert.Equal((8.0, 1e6, 10000.0), (v5.RopeLinearFactor, v5.RopeTheta, v5.RopeLocalTheta!.Value));
    }

    [Theory]
    [InlineData("layer_types", "config.json: layer_types[1] = 'chunked_attention' is not supported")]
    [InlineData("multimodal", "model_type 'gemma3' (Gemma3ForConditionalGeneration) needs a 'text_config' object")]
    [InlineData("rope", "rope_scaling type 'llama3' is not supported for gemma3_text")]
    public void Unsupported_gemma_configs_are_refused_naming_the_key(string what, string message)
    {
        var j = what switch
        {
            "layer_types" => HfConfig("gemma2", 2, j => j["layer_types"] = new JsonArray("sliding_attention", "chunked_attention")),
            "multimodal" => HfConfig("gemma3", 2),
            _ => HfConfig("gemma3_text", 2, j => j["rope_scaling"] = new JsonObject { ["rope_type"] = "llama3", ["factor"] = 8.0 }),
        };
        var e = Assert.Throws<NotSupportedException>(() => TransformerConfig.FromHfConfig(j, "config.json"));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("language_model.model.", "language_model.")]   // transformers < 4.52
    [InlineData("model.language_model.", "")]                   // transformers ≥ 4.52
    public void A_multimodal_Gemma3_checkpoint_loads_its_language_model(string bodyPrefix, string headPrefix)
    {
        var c = Gemma3() with { TieWordEmbeddings = false };
        using var model = Create(c, seed: 8);
        Directory.CreateDirectory(_dir);
        var textConfig = c.ToHfConfig();
        foreach (var key in new[] { "architectures", "bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype" }) textConfig.Remove(key);
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("Gemma3ForConditionalGeneration"), ["model_type"] = "gemma3", ["text_config"] = textConfig,
            ["vision_config"] = new JsonObject { ["model_type"] = "siglip_vision_model" }, ["torch_dtype"] = "float32",
        };
        File.WriteAllText(Path.Combine(_dir, "config.json"), config.ToJsonString());
        using var vision = randn(4, 3);
        var tensors = model.named_parameters().Select(p => (p.name.StartsWith("model.", StringComparison.Ordinal)
                ? bodyPrefix + p.name["model.".Length..] : headPrefix + p.name, (Tensor)p.parameter))
            .Append((bodyPrefix.StartsWith("model.", StringComparison.Ordinal) ? "model.vision_tower.vision_model.post_layernorm.weight" : "vision_tower.vision_model.post_layernorm.weight", vision))
            .Append(("multi_modal_projector.mm_soft_emb_norm.weight", vision))
            .ToList();
        SafetensorsTorch.Write(Path.Combine(_dir, "model.safetensors"), tensors);
        var loadedConfig = HfModelLoader.ReadConfig(_dir);
        Assert.Equal(Architecture.Gemma3, loadedConfig.Architecture);
        using var weights = HfModelLoader.OpenWeights(_dir);
        using var loaded = HfModelLoader.Load(weights, loadedConfig, ScalarType.Float32, _dir);
        loaded.eval();
        var ids = Probe.Select(x => (long)x).ToArray();
        using var a = TinyModels.Logits(model, ids);
        using var b = TinyModels.Logits(loaded, ids);
        Assert.Equal(0f, MaxAbsDiff(a, b));
    }

    [Fact]
    public void The_sliding_window_mask_shows_each_query_itself_and_the_window_minus_one_keys_before_it()
    {
        using var valid = ones([1, 6], ScalarType.Bool);
        using var mask = AttentionMath.Mask(valid, 6, 3);                          // (1, 1, 6, 6)
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                Assert.Equal(j <= i && i - j < 3, mask[0, 0, i, j].item<bool>());
        using var step = AttentionMath.Mask(valid, 1, 3);                          // decoding the 6th token with 5 cached
        Assert.Equal([false, false, false, true, true, true], step[0, 0, 0].data<bool>().ToArray());
        using var global = AttentionMath.Mask(valid, 1);
        Assert.All(global[0, 0, 0].data<bool>().ToArray(), Assert.True);
    }
}
