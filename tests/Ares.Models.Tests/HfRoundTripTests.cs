using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public sealed class HfRoundTripTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"ares-hf-{Guid.NewGuid():N}");
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }

    static readonly long[] Probe = [1, 403, 407, 261, 378, 5, 90, 300, 2, 17];

    static float MaxAbsDiff(Tensor a, Tensor b) { using var d = (a - b).abs().max(); return d.item<float>(); }

    [Fact]
    public void Stories260K_exported_as_HF_reloads_with_identical_logits_and_tokenizer()
    {
        using var gguf = ModelLoader.Load(Fixtures.Stories260KGguf);
        HfModelSaver.Save(gguf, _dir);
        Assert.True(File.Exists(Path.Combine(_dir, "config.json")));
        Assert.True(File.Exists(Path.Combine(_dir, "tokenizer.json")));
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(_dir)!, Path.GetFileName(_dir) + ".tmp-*"));
        using var hf = ModelLoader.Load(_dir);
        Assert.Equal("hf", hf.SourceFormat);
        using var a = TinyModels.Logits(gguf.Model, Probe);
        using var b = TinyModels.Logits(hf.Model, Probe);
        Assert.Equal(0f, MaxAbsDiff(a, b)); // F32 → F32: bit-exact
        foreach (var text in new[] { "Once upon a time", "The cat sat. It was happy!", "Émile ate 3 apples 🍎" })
        {
            Assert.Equal(gguf.Tokenizer.Encode(text), hf.Tokenizer.Encode(text));
            Assert.Equal(text, hf.Tokenizer.Decode(hf.Tokenizer.Encode(text)));
        }
        // And the exported model still writes the golden story.
        var golden = File.ReadAllText(Path.Combine(Fixtures.Root, "stories260K", "greedy_bos_200.txt"));
        var r = new TextGenerator(hf.Model, hf.Tokenizer).Generate([[1]], new GenerationOptions { MaxNewTokens = 200, Temperature = 0, StopIds = new HashSet<int>() })[0];
        Assert.Equal(golden, r.Text);
    }

    [Theory]
    [InlineData("F16", 2e-2f)]
    [InlineData("BF16", 1e-1f)]
    public void Half_precision_exports_reload_within_tolerance(string storedName, float tolerance)
    {
        var stored = Enum.Parse<TensorDType>(storedName);
        using var gguf = ModelLoader.Load(Fixtures.Stories260KGguf);
        HfModelSaver.Save(gguf, _dir, stored);
        using var hf = ModelLoader.Load(_dir);
        Assert.Equal(stored, Assert.Single(hf.CheckpointDTypes).Key);
        using var a = TinyModels.Logits(gguf.Model, Probe);
        using var b = TinyModels.Logits(hf.Model, Probe);
        Assert.InRange(MaxAbsDiff(a, b), 0, tolerance);
        Assert.Equal(a.argmax(-1).data<long>().ToArray(), b.argmax(-1).data<long>().ToArray());
    }

    public static TheoryData<string> Architectures => new() { "llama", "llama-tied", "qwen2", "gpt2", "llama-rm", "gpt2-rm" };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Random_models_of_each_architecture_round_trip_exactly(string kind)
    {
        var c = kind switch
        {
            "llama" => TinyModels.Llama(),
            "llama-tied" => TinyModels.Llama(tied: true),
            "qwen2" => TinyModels.Qwen2(),
            "gpt2" => TinyModels.Gpt2(),
            "llama-rm" => TinyModels.Llama(labels: 1),
            _ => TinyModels.Gpt2(labels: 1),
        };
        using var model = TinyModels.Create(c, seed: 3);
        HfModelSaver.Save(model, _dir, TensorDType.F32, _ => { });
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!;
        Assert.Equal(c.HfArchitectureName, config["architectures"]![0]!.GetValue<string>());
        using var weights = SafetensorsFile.Open(Path.Combine(_dir, "model.safetensors"));
        if (c.Architecture == Architecture.Gpt2) // HF's Conv1D layout: (in, out)
            Assert.Equal(new long[] { 32, 96 }, weights.Tensors["transformer.h.0.attn.c_attn.weight"].Shape);
        Assert.Equal(c.TieWordEmbeddings || c.NumLabels is not null, !weights.Tensors.ContainsKey("lm_head.weight"));
        var loadedConfig = HfModelLoader.ReadConfig(_dir);
        Assert.Equal(c.ToHfConfig().ToJsonString(), loadedConfig.ToHfConfig().ToJsonString());
        using var reloaded = HfModelLoader.Load(weights, loadedConfig, ScalarType.Float32, _dir);
        reloaded.eval();
        var ids = new long[] { 3, 14, 15, 92, 65, 35, 89, 79 };
        using var a = TinyModels.Logits(model, ids);
        using var b = TinyModels.Logits(reloaded, ids);
        Assert.Equal(0f, MaxAbsDiff(a, b));
    }

    [Fact]
    public void Saving_over_an_existing_directory_replaces_it_whole()
    {
        using var model = TinyModels.Create(TinyModels.Llama(), seed: 1);
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "stale.txt"), "old");
        HfModelSaver.Save(model, _dir, TensorDType.F32, _ => { });
        Assert.False(File.Exists(Path.Combine(_dir, "stale.txt")));
        Assert.True(File.Exists(Path.Combine(_dir, "model.safetensors")));
    }

    [Theory]
    [InlineData("mistral", "llama")]
    [InlineData("qwen3", "qwen2")]
    public void A_tiny_HF_directory_around_a_real_tokenizer_loads_tokenizes_and_chats(string tokenizer, string arch)
    {
        var src = Path.Combine(Fixtures.Tokenizers, tokenizer);
        var vocab = Core.Tokenization.HfTokenizer.Load(src).VocabSize;
        var c = (arch == "qwen2" ? TinyModels.Qwen2(vocab) : TinyModels.Llama(vocab)) with { HiddenSize = 16, IntermediateSize = 24, NumHeads = 2, NumKvHeads = 1 };
        using (var model = TinyModels.Create(c, seed: 5))
            HfModelSaver.Save(model, _dir, TensorDType.BF16, dir =>
            {
                foreach (var f in Directory.GetFiles(src)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            });
        using var m = ModelLoader.Load(_dir);
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Tokenizers, "golden.json")))![tokenizer]!;
        var first = golden.AsArray()[0]!;
        Assert.Equal(first["ids"]!.AsArray().Select(x => x!.GetValue<int>()), m.Tokenizer.Encode(first["text"]!.GetValue<string>()));
        var template = m.ResolveChatTemplate();
        Assert.Equal(tokenizer == "qwen3" ? Core.Tokenization.ChatFormat.ChatML : Core.Tokenization.ChatFormat.Plain, template.Family);
        var ids = m.EncodeChat([new Core.Tokenization.ChatMessage("user", "Hello there")]);
        var r = new TextGenerator(m.Model, m.Tokenizer).Generate([ids], new GenerationOptions { MaxNewTokens = 5, Temperature = 1, Seed = 1 })[0];
        Assert.InRange(r.TokenIds.Length, 1, 5);
        Assert.All(r.TokenIds, id => Assert.InRange(id, 0, vocab - 1));
    }
}
