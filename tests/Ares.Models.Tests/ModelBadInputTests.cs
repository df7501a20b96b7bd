using System.Text;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Models.Loading;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>Model directories and files are untrusted: every defect gives a message naming the file and the key or tensor.</summary>
public sealed class ModelBadInputTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"ares-bad-{Guid.NewGuid():N}");
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }

    /// A valid tiny HF Llama directory (random weights, config and safetensors), returned for editing.
    string ValidDirectory()
    {
        using var model = TinyModels.Create(TinyModels.Llama(), seed: 2);
        HfModelSaver.Save(model, _dir, TensorDType.F32, _ => { });
        return _dir;
    }

    void EditConfig(Action<JsonObject> edit)
    {
        var path = Path.Combine(_dir, "config.json");
        var j = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(j);
        File.WriteAllText(path, j.ToJsonString());
    }

    static Exception LoadFails(string dir)
    {
        using var weights = HfModelLoader.OpenWeights(dir);
        var e = Record.Exception(() => HfModelLoader.Load(weights, HfModelLoader.ReadConfig(dir), ScalarType.Float32, dir).Dispose());
        Assert.NotNull(e);
        Assert.True(e is ModelFormatException or NotSupportedException, $"unexpected {e.GetType().Name}: {e.Message}");
        return e;
    }

    [Fact]
    public void Malformed_config_json_names_the_file()
    {
        ValidDirectory();
        File.WriteAllText(Path.Combine(_dir, "config.json"), "{\"model_type\": \"llama\",");
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.ReadConfig(_dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("malformed JSON", e.Message);
    }

    [Theory]
    [InlineData("model_type", "\"falcon\"", "model_type 'falcon'")]
    [InlineData("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4}", "rope_scaling type 'yarn'")]
    [InlineData("num_key_value_heads", "3", "num_key_value_heads = 3")]
    [InlineData("hidden_act", "\"relu2\"", "hidden_act = 'relu2'")]
    [InlineData("pretraining_tp", "2", "pretraining_tp")]
    [InlineData("hidden_size", "\"big\"", "'hidden_size' must be an integer")]
    [InlineData("vocab_size", "-5", "vocab_size = -5")]
    public void Unsupported_or_invalid_config_values_are_named(string key, string json, string expected)
    {
        ValidDirectory();
        EditConfig(j => j[key] = JsonNode.Parse(json));
        var e = Assert.Throws<NotSupportedException>(() => HfModelLoader.ReadConfig(_dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_config_that_disagrees_with_tensor_shapes_names_the_tensor()
    {
        ValidDirectory();
        EditConfig(j => j["intermediate_size"] = 64);
        var e = LoadFails(_dir);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("mlp.gate_proj.weight", e.Message);
        Assert.Contains("[48, 32]", e.Message);
    }

    [Fact]
    public void Missing_and_unexpected_tensors_are_listed()
    {
        ValidDirectory();
        EditConfig(j => j["num_hidden_layers"] = 3);
        Assert.Contains("missing tensors: model.layers.2.", LoadFails(_dir).Message);
        EditConfig(j => j["num_hidden_layers"] = 1);
        Assert.Contains("unexpected tensors", LoadFails(_dir).Message);
        Assert.Contains("model.layers.1.", LoadFails(_dir).Message);
    }

    [Fact]
    public void Pickle_checkpoints_are_refused_with_a_reason()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "pytorch_model.bin"), "not read");
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.OpenWeights(_dir));
        Assert.Contains("safetensors", e.Message);
    }

    [Fact]
    public void A_truncated_weights_file_names_the_file()
    {
        ValidDirectory();
        var path = Path.Combine(_dir, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.OpenWeights(_dir));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void An_unsupported_GGUF_quantisation_is_named_with_its_tensor()
    {
        Directory.CreateDirectory(_dir);
        var bytes = File.ReadAllBytes(Fixtures.Stories260KGguf);
        // Tensor info of "output.weight": u64 name length, name, u32 n_dims, n_dims × u64, u32 type.
        var key = BitConverter.GetBytes(13UL).Concat(Encoding.ASCII.GetBytes("output.weight")).ToArray();
        int at = bytes.AsSpan().IndexOf(key) + key.Length;
        int nDims = BitConverter.ToInt32(bytes, at);
        BitConverter.GetBytes(23u).CopyTo(bytes, at + 4 + 8 * nDims); // 23 = IQ4_XS, a codebook quantisation Ares does not read
        var path = Path.Combine(_dir, "iq4xs.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<NotSupportedException>(() => ModelLoader.Load(path).Dispose());
        Assert.Contains("output.weight", e.Message);
        Assert.Contains("IQ4_XS", e.Message);
        Assert.Contains("Q4_K", e.Message); // the supported list
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_missing_path_says_what_was_expected()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ModelLoader.Load(Path.Combine(_dir, "nope")));
        Assert.Contains("Hugging Face model directory or a .gguf file", e.Message);
    }
}
