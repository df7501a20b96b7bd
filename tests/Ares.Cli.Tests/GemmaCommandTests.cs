using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Models;
using Ares.Models.Loading;
using Ares.Models.Tests;

namespace Ares.Cli.Tests;

[Collection(nameof(ConsoleCapture))]
public sealed class GemmaCommandTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"ares-cli-gemma-{Guid.NewGuid():N}");
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }

    /// <summary>A tiny Gemma 2 around the mistral tokenizer fixture, with a Gemma chat template in tokenizer_config.json.</summary>
    void WriteGemma2()
    {
        var src = Path.Combine(Fixtures.Tokenizers, "mistral");
        var c = new TransformerConfig
        {
            Architecture = Architecture.Gemma2, VocabSize = Core.Tokenization.HfTokenizer.Load(src).VocabSize, HiddenSize = 16, IntermediateSize = 24,
            NumLayers = 2, NumHeads = 2, NumKvHeads = 1, HeadDim = 12, MaxPositions = 64, NormEps = 1e-6, TieWordEmbeddings = true,
            HiddenAct = "gelu_pytorch_tanh", SlidingWindow = 4, SlidingLayers = [true, false], QueryPreAttnScalar = 12,
            AttnLogitSoftcap = 50, FinalLogitSoftcap = 30,
        };
        using var model = TinyModels.Create(c, seed: 1);
        HfModelSaver.Save(model, _dir, TensorDType.F32, d =>
        {
            File.Copy(Path.Combine(src, "tokenizer.json"), Path.Combine(d, "tokenizer.json"));
            var config = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(src, "tokenizer_config.json")))!;
            config["chat_template"] = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
                + "{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
                + "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
            File.WriteAllText(Path.Combine(d, "tokenizer_config.json"), config.ToJsonString());
        });
    }

    [Fact]
    public void Model_info_shows_the_gemma_architecture_windows_and_caps_and_generate_runs_past_the_window()
    {
        WriteGemma2();
        var (code, stdout, stderr) = CliHarness.Run("model", "info", _dir);
        Assert.True(code == 0, stderr);
        Assert.Contains("architecture:    gemma2 (Gemma2ForCausalLM)", stdout);
        Assert.Contains("attention heads: 2 (key/value heads 1, head dim 12)", stdout);
        Assert.Contains("sliding window:  4 tokens (1 of 2 layers; the others global)", stdout);
        Assert.Contains("soft-caps:       attention 50, final logits 30", stdout);
        Assert.Contains("chat format:     Gemma", stdout);

        (code, stdout, stderr) = CliHarness.Run("generate", "--model", _dir, "--prompt", "Hello there, how are you?", "--max-new-tokens", "8", "--temperature", "0");
        Assert.True(code == 0, stderr);
        Assert.False(string.IsNullOrEmpty(stdout));
    }
}
