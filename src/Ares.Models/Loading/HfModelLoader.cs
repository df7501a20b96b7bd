using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Loading;

/// <summary>Sampling defaults a model ships in generation_config.json.</summary>
internal sealed record GenerationDefaults(double? Temperature, double? TopP, int? TopK, bool? DoSample, int[] EosTokenIds);

/// <summary>Loads a Hugging Face model directory: config.json, (sharded) safetensors, generation_config.json.</summary>
internal static class HfModelLoader
{
    public static JsonObject ReadJson(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new ModelFormatException($"{path}: expected a JSON object");
        }
        catch (JsonException e) { throw new ModelFormatException($"{path}: malformed JSON: {e.Message}", e); }
    }

    public static TransformerConfig ReadConfig(string dir)
    {
        var path = Path.Combine(dir, "config.json");
        if (!File.Exists(path)) throw new ModelFormatException($"{dir}: no config.json: not a Hugging Face model directory");
        return TransformerConfig.FromHfConfig(ReadJson(path), path);
    }

    public static GenerationDefaults? ReadGenerationDefaults(string dir)
    {
        var path = Path.Combine(dir, "generation_config.json");
        if (!File.Exists(path)) return null;
        var j = ReadJson(path);
        return new GenerationDefaults(TransformerConfig.Dbl(j, "temperature", path), TransformerConfig.Dbl(j, "top_p", path),
            TransformerConfig.Int(j, "top_k", path), TransformerConfig.Bool(j, "do_sample", path), TransformerConfig.IdList(j, "eos_token_id", path));
    }

    /// <summary>The weights of <paramref name="dir"/>: model.safetensors or a sharded index.</summary>
    public static ITensorReader OpenWeights(string dir)
    {
        var single = Path.Combine(dir, "model.safetensors");
        if (File.Exists(single)) return SafetensorsFile.Open(single);
        var index = Path.Combine(dir, "model.safetensors.index.json");
        if (File.Exists(index)) return ShardedSafetensors.Open(index);
        if (File.Exists(Path.Combine(dir, "pytorch_model.bin")) || File.Exists(Path.Combine(dir, "pytorch_model.bin.index.json")))
            throw new ModelFormatException($"{dir}: only pytorch_model.bin found; Ares reads safetensors only (pickle files can run code). Convert with transformers: model.save_pretrained(dir, safe_serialization=True)");
        throw new ModelFormatException($"{dir}: no model.safetensors or model.safetensors.index.json");
    }

    public static CausalLM Load(ITensorReader weights, TransformerConfig config, ScalarType dtype, string dir)
    {
        var model = Create(config, dtype);
        bool gpt2 = config.Architecture == Architecture.Gpt2;
        bool gemma3 = config.Architecture == Architecture.Gemma3;
        WeightLoader.Load(model, dir, name =>
        {
            // Original GPT-2 checkpoints omit the "transformer." prefix that save_pretrained writes.
            string key = name;
            if (!weights.Tensors.ContainsKey(key) && gpt2 && name.StartsWith("transformer.", StringComparison.Ordinal))
                key = name["transformer.".Length..];
            if (!weights.Tensors.ContainsKey(key) && gemma3) key = Gemma3MultimodalKey(name, weights);
            if (!weights.Tensors.TryGetValue(key, out var e)) return null;
            Func<Tensor, Tensor>? fix = gpt2 && Gpt2LMHeadModel.IsConv1DWeight(name) ? w => w.t().contiguous() : null; // (in, out) → (out, in)
            return (e, weights, fix);
        }, weights.Tensors.Keys.Select(k => (k, weights)), key => IsIgnorable(key, config));
        return model;
    }

    /// <summary>
    /// Gemma3ForConditionalGeneration keeps the language model under language_model.model.* / language_model.lm_head
    /// (transformers &lt; 4.52) or model.language_model.* / lm_head (later); this is the key a text-model name has there.
    /// </summary>
    static string Gemma3MultimodalKey(string name, ITensorReader weights)
    {
        if (name.StartsWith("model.", StringComparison.Ordinal))
        {
            string newer = "model.language_model." + name["model.".Length..];
            return weights.Tensors.ContainsKey(newer) ? newer : "language_model." + name;
        }
        return weights.Tensors.ContainsKey(name) ? name : "language_model." + name;
    }

    /// <summary>A random-weight model of <paramref name="config"/>'s architecture (weights are loaded into it).</summary>
    public static CausalLM Create(TransformerConfig config, ScalarType dtype = ScalarType.Float32) => config.Architecture switch
    {
        Architecture.Gpt2 => new Gpt2LMHeadModel(config, dtype),
        Architecture.Qwen3 => new Qwen3ForCausalLM(config, dtype),
        Architecture.Phi3 => new Phi3ForCausalLM(config, dtype),
        Architecture.Gemma2 or Architecture.Gemma3 => new GemmaForCausalLM(config, dtype),
        _ => new LlamaForCausalLM(config, dtype), // llama, mistral, qwen2
    };

    /// <summary>Checkpoint entries that are buffers or redundant copies rather than parameters.</summary>
    internal static bool IsIgnorable(string key, TransformerConfig c) =>
        key.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)
        // A multimodal Gemma 3's image encoder and projector: Ares runs the language model only.
        || (c.Architecture == Architecture.Gemma3 && (key.StartsWith("vision_tower.", StringComparison.Ordinal) || key.StartsWith("multi_modal_projector.", StringComparison.Ordinal)
            || key.StartsWith("model.vision_tower.", StringComparison.Ordinal) || key.StartsWith("model.multi_modal_projector.", StringComparison.Ordinal)
            || (key == "language_model.lm_head.weight" && c.TieWordEmbeddings)))
        || (c.Architecture == Architecture.Gpt2 && (key.EndsWith(".attn.bias", StringComparison.Ordinal) || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal)))
        || (key == "lm_head.weight" && c.TieWordEmbeddings);
}
