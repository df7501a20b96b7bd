using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Nn;
using Ares.Models.Training;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public sealed class LoraTests : IDisposable
{
    static readonly LoraConfig Attention = new() { Rank = 4, Alpha = 8, Dropout = 0, TargetModules = ["q_proj", "v_proj", "o_proj"] };
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"ares-lora-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Trains a few SFT steps so that B ≠ 0 and the adapter actually changes the model.</summary>
    static void TrainAFewSteps(CausalLM model, int steps = 5)
    {
        using var trainer = new SftTrainer(model, new SftConfig { BatchSize = 4, MaxSteps = steps, LearningRate = 1e-2 });
        trainer.Train(TrainingModels.CountingTask(8));
    }

    static void AssertClose(Tensor expected, Tensor actual, double atol)
    {
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= atol, $"max |Δ| = {diff} > {atol}");
    }

    [Fact]
    public void Apply_adapts_the_targets_and_freezes_everything_else()
    {
        using var model = TrainingModels.Llama();
        var adapted = LoraAdapters.Apply(model, Attention);
        Assert.Equal(6, adapted.Count);                    // 2 layers × q, v, o
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Equal(12, trainable.Count);
        Assert.Contains("model.layers.0.self_attn.q_proj.lora_A.weight", trainable);
        Assert.Contains("model.layers.1.self_attn.o_proj.lora_B.weight", trainable);
        Assert.All(trainable, n => Assert.Matches(@"\.(q|v|o)_proj\.lora_[AB]\.weight$", n));
    }

    [Fact]
    public void Unknown_targets_are_named_with_the_available_modules()
    {
        using var model = TrainingModels.Llama();
        var e = Assert.Throws<ArgumentException>(() => LoraAdapters.Apply(model, Attention with { TargetModules = ["q_proj", "c_attn"] }));
        Assert.Contains("[c_attn]", e.Message);
        Assert.Contains("available: lm_head, q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", e.Message);
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));   // untouched
    }

    [Fact]
    public void A_fresh_adapter_leaves_the_outputs_unchanged()
    {
        using var model = TrainingModels.Llama();
        using var before = TrainingModels.Logits(model);
        LoraAdapters.Apply(model, Attention);
        using var after = TrainingModels.Logits(model);
        Assert.True(TrainingModels.Identical(before, after));                  // B = 0
    }

    [Fact]
    public void Sft_changes_only_the_adapters()
    {
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, Attention);
        var before = TrainingModels.Snapshot(model);
        TrainAFewSteps(model);
        foreach (var (name, p) in model.named_parameters())
        {
            bool same = TrainingModels.Identical(before[name], p);
            if (name.Contains(".lora_")) Assert.False(same, $"{name} did not train");
            else Assert.True(same, $"{name} changed");
        }
        foreach (var t in before.Values) t.Dispose();
    }

    [Fact]
    public void Disabling_adapters_restores_the_base_model_and_merging_keeps_the_adapted_one()
    {
        using var model = TrainingModels.Llama();
        using var baseLogits = TrainingModels.Logits(model);
        LoraAdapters.Apply(model, Attention);
        TrainAFewSteps(model);
        using var adapted = TrainingModels.Logits(model);
        Assert.False(adapted.allclose(baseLogits, atol: 1e-3));

        LoraAdapters.SetEnabled(model, false);
        using var disabled = TrainingModels.Logits(model);
        Assert.True(TrainingModels.Identical(disabled, baseLogits));
        LoraAdapters.SetEnabled(model, true);

        LoraAdapters.Merge(model);
        using var merged = TrainingModels.Logits(model);
        AssertClose(adapted, merged, 1e-5);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains(".lora_"));
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Peft_save_then_load_into_a_fresh_model_reproduces_the_logits()
    {
        using var model = TrainingModels.Llama();
        LoraAdapters.Apply(model, Attention);
        TrainAFewSteps(model);
        using var expected = TrainingModels.Logits(model);
        LoraAdapters.SaveAdapter(model, _dir, "tiny/llama");

        Assert.Equal([LoraAdapters.ConfigFileName, LoraAdapters.WeightsFileName], Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, LoraAdapters.ConfigFileName)))!.AsObject();
        Assert.Equal("LORA", (string?)json["peft_type"]);
        Assert.Equal("CAUSAL_LM", (string?)json["task_type"]);
        Assert.Equal("tiny/llama", (string?)json["base_model_name_or_path"]);
        Assert.Equal(4, (int)json["r"]!);
        Assert.Equal(8.0, (double)json["lora_alpha"]!);
        Assert.Equal(0.0, (double)json["lora_dropout"]!);
        Assert.Equal("none", (string?)json["bias"]);
        Assert.False((bool)json["fan_in_fan_out"]!);
        Assert.True((bool)json["inference_mode"]!);
        Assert.Equal(["q_proj", "v_proj", "o_proj"], json["target_modules"]!.AsArray().Select(t => (string)t!));
        using (var file = SafetensorsFile.Open(Path.Combine(_dir, LoraAdapters.WeightsFileName)))
        {
            Assert.Equal(12, file.Tensors.Count);
            var a = file.Tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"];
            Assert.Equal(TensorDType.F32, a.DType);
            Assert.Equal([4, 32], a.Shape);
            var b = file.Tensors["base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight"];
            Assert.Equal([32, 4], b.Shape);
        }

        using var fresh = TrainingModels.Llama();
        var loaded = LoraAdapters.LoadAdapter(fresh, _dir);
        Assert.Equal((4, 8.0), (loaded.Rank, loaded.Alpha));
        using var actual = TrainingModels.Logits(fresh);
        Assert.True(TrainingModels.Identical(expected, actual));
    }

    [Fact]
    public void Bad_adapters_are_rejected_naming_the_file_and_the_key()
    {
        using (var model = TrainingModels.Llama())
        {
            LoraAdapters.Apply(model, Attention);
            LoraAdapters.SaveAdapter(model, _dir, "tiny/llama");
        }
        string configPath = Path.Combine(_dir, LoraAdapters.ConfigFileName), weightsPath = Path.Combine(_dir, LoraAdapters.WeightsFileName);
        var goodConfig = File.ReadAllText(configPath);
        var goodWeights = File.ReadAllBytes(weightsPath);

        Exception Load()
        {
            using var fresh = TrainingModels.Llama();
            var e = Record.Exception(() => LoraAdapters.LoadAdapter(fresh, _dir));
            Assert.DoesNotContain(fresh.named_parameters(), p => p.name.Contains(".lora_")); // untouched on error
            return e!;
        }
        void EditConfig(Action<JsonObject> edit)
        {
            var j = JsonNode.Parse(goodConfig)!.AsObject();
            edit(j);
            File.WriteAllText(configPath, j.ToJsonString());
        }
        void RewriteWeights(Func<IEnumerable<(string Name, Tensor Tensor)>, IEnumerable<(string, Tensor)>> edit)
        {
            File.WriteAllBytes(weightsPath, goodWeights);
            using var scope = NewDisposeScope();
            List<(string, Tensor)> tensors;
            using (var file = SafetensorsFile.Open(weightsPath))
                tensors = file.Tensors.Values.Select(e => (e.Name, Loading.WeightLoader.Read(file, e))).ToList();
            SafetensorsTorch.Write(weightsPath, edit(tensors).ToList());
        }

        // r in the config disagrees with the tensors.
        EditConfig(j => j["r"] = 8);
        var e = Load();
        Assert.IsType<ModelFormatException>(e);
        Assert.Contains(weightsPath, e.Message);
        Assert.Contains("'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape [4, 32], expected [8, 32]", e.Message);

        // Config problems name the config file and key.
        EditConfig(j => j["peft_type"] = "IA3");
        e = Load();
        Assert.Contains(configPath, e.Message);
        Assert.Contains("peft_type is 'IA3'", e.Message);
        EditConfig(j => j.Remove("lora_alpha"));
        Assert.Contains("'lora_alpha' is missing", Load().Message);
        EditConfig(j => j["use_rslora"] = true);
        Assert.IsType<NotSupportedException>(Load());
        File.WriteAllText(configPath, goodConfig);

        // A missing tensor.
        const string q0B = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";
        RewriteWeights(ts => ts.Where(t => t.Name != q0B));
        e = Load();
        Assert.Contains(weightsPath, e.Message);
        Assert.Contains($"missing tensor '{q0B}'", e.Message);

        // A shape mismatch in one tensor.
        RewriteWeights(ts => ts.Select(t => t.Name == q0B ? (t.Name, zeros(32, 3)) : t));
        e = Load();
        Assert.Contains($"'{q0B}' has shape [32, 3], expected [32, 4]", e.Message);

        // An extra tensor (a module the config does not target).
        const string k0A = "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight";
        RewriteWeights(ts => ts.Append((k0A, zeros(4, 32))));
        e = Load();
        Assert.Contains($"unexpected tensor '{k0A}'", e.Message);
    }

    [Fact]
    public void Gpt2_adapters_target_its_fused_projections_and_save_as_fan_in_fan_out()
    {
        var config = new TransformerConfig
        {
            Architecture = Architecture.Gpt2,
            VocabSize = 32,
            HiddenSize = 16,
            IntermediateSize = 64,
            NumLayers = 1,
            NumHeads = 2,
            NumKvHeads = 2,
            HeadDim = 8,
            MaxPositions = 16,
            HiddenAct = "gelu_new",
            TieWordEmbeddings = true,
            QkvBias = true,
            OutputBias = true,
            MlpBias = true,
        };
        using var model = new Gpt2LMHeadModel(config);
        var adapted = LoraAdapters.Apply(model, new LoraConfig { Rank = 2, TargetModules = ["c_attn", "c_proj"] });
        Assert.Equal(["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj"], adapted);
        LoraAdapters.SaveAdapter(model, _dir, "gpt2");
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, LoraAdapters.ConfigFileName)))!.AsObject();
        Assert.True((bool)json["fan_in_fan_out"]!);
        using var file = SafetensorsFile.Open(Path.Combine(_dir, LoraAdapters.WeightsFileName));
        Assert.Equal([2, 16], file.Tensors["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"].Shape);
        Assert.Equal([48, 2], file.Tensors["base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"].Shape);
    }
}
