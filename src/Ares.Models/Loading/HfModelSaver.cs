using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Core.Tokenization;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Loading;

/// <summary>
/// Saves a model as a Hugging Face directory (config.json, model.safetensors, tokenizer files,
/// generation_config.json) that this runtime and `transformers` load back. LoRA adapters that are
/// enabled are merged into the written weights (the in-memory model is not changed). The directory
/// is built beside the target and swapped in at the end, so a crash never leaves a half-written model.
/// </summary>
internal static class HfModelSaver
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Save(LoadedModel m, string outDir, TensorDType stored = TensorDType.F32) =>
        Save(m.Model, outDir, stored, dir => WriteTokenizerFiles(m, dir));

    public static void Save(CausalLM model, string outDir, TensorDType stored, Action<string> writeTokenizer)
    {
        string full = Path.GetFullPath(outDir);
        string parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"{outDir}: has no parent directory");
        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            var config = model.Config.ToHfConfig();
            config["torch_dtype"] = stored switch { TensorDType.BF16 => "bfloat16", TensorDType.F16 => "float16", _ => "float32" };
            File.WriteAllText(Path.Combine(tmp, "config.json"), config.ToJsonString(Indented));
            SafetensorsTorch.Write(Path.Combine(tmp, "model.safetensors"), Tensors(model, stored).ToList());
            writeTokenizer(tmp);
            SwapIn(tmp, full);
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
    }

    /// <summary>Checkpoint tensors: parameters by name, adapters merged, GPT-2 Conv1D weights transposed back.</summary>
    static IEnumerable<TensorToWrite> Tensors(CausalLM model, TensorDType stored)
    {
        var adapters = model.Linears().Where(l => l.Layer.HasAdapter && l.Layer.AdapterEnabled).ToDictionary(l => l.Name + ".weight", l => l.Layer);
        bool gpt2 = model.Config.Architecture == Architecture.Gpt2;
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.Contains(".lora_A.") || name.Contains(".lora_B.")) continue;
            bool conv1D = gpt2 && Gpt2LMHeadModel.IsConv1DWeight(name);
            yield return SafetensorsTorch.Entry(name, conv1D ? [p.shape[1], p.shape[0]] : p.shape, () =>
            {
                Tensor w = p;
                if (adapters.TryGetValue(name, out var layer))
                    w = w.to_type(ScalarType.Float32).Plus(layer.LoraB!.matmul(layer.LoraA!).to_type(ScalarType.Float32).Times(layer.LoraScaling)); // (out, in)
                return conv1D ? w.t() : w;                                                   // GPT-2: (in, out) as HF's Conv1D
            }, stored);
        }
    }

    static void WriteTokenizerFiles(LoadedModel m, string dir)
    {
        if (m.SourceFormat == "hf")
        {
            foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja" })
            {
                var src = Path.Combine(m.SourcePath, f);
                if (File.Exists(src)) File.Copy(src, Path.Combine(dir, f));
            }
            return;
        }
        if (m.Tokenizer is not GgufTokenizer gguf)
            throw new NotSupportedException($"{m.SourcePath}: cannot write tokenizer files for a {m.Tokenizer.Kind} tokenizer");
        var (tokenizerJson, tokenizerConfig) = HfTokenizerExport.FromGguf(gguf, m.ChatTemplate);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizerJson.ToJsonString(Indented));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), tokenizerConfig.ToJsonString(Indented));
        var gen = new JsonObject();
        if (m.Tokenizer.BosId is int b) gen["bos_token_id"] = b;
        if (m.Tokenizer.EosId is int e) gen["eos_token_id"] = e;
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), gen.ToJsonString(Indented));
    }

    /// <summary>Replaces <paramref name="target"/> with <paramref name="staged"/> using renames only.</summary>
    static void SwapIn(string staged, string target)
    {
        if (File.Exists(target)) throw new IOException($"{target}: exists and is a file, not a directory");
        if (!Directory.Exists(target)) { Directory.Move(staged, target); return; }
        string old = $"{target}.old-{Guid.NewGuid():N}";
        Directory.Move(target, old);
        Directory.Move(staged, target);
        Directory.Delete(old, recursive: true);
    }
}
