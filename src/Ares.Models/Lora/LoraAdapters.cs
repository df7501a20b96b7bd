using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Models.Loading;
using Ares.Models.Nn;
using Ares.Models.Training;
using static TorchSharp.torch;

namespace Ares.Models.Lora;

/// <summary>
/// Puts LoRA adapters on a <see cref="CausalLM"/>, toggles and merges them, and saves/loads them
/// in PEFT's on-disk format (adapter_config.json + adapter_model.safetensors) so adapters move
/// between Ares and HF PEFT unchanged. The frozen base with adapters disabled is the reference
/// model (GFlowNet p_ref, KL anchors): one set of base weights serves both.
/// </summary>
internal static class LoraAdapters
{
    public const string ConfigFileName = "adapter_config.json";
    public const string WeightsFileName = "adapter_model.safetensors";
    const string KeyPrefix = "base_model.model.";    // PEFT's PeftModel → LoraModel → base model nesting

    // The config each adapted model was built with, for SaveAdapter; weak so models stay collectable.
    static readonly ConditionalWeakTable<CausalLM, LoraConfig> Attached = new();

    /// <summary>The adapter config of <paramref name="model"/>, or null if it has none.</summary>
    public static LoraConfig? ConfigOf(CausalLM model) => Attached.TryGetValue(model, out var c) ? c : null;

    /// <summary>
    /// Adds an adapter on every linear layer whose last name segment is a target and freezes every
    /// other parameter, so only lora_A/lora_B train. Returns the adapted module paths.
    /// </summary>
    public static IReadOnlyList<string> Apply(CausalLM model, LoraConfig config)
    {
        var targets = Targets(model, config);
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = false;
        using var generator = new Generator((ulong)config.Seed);
        foreach (var (_, layer) in targets) layer.AddAdapter(config.Rank, config.Alpha, config.Dropout, generator);
        Attached.AddOrUpdate(model, config);
        return targets.Select(t => t.Name).ToList();
    }

    /// <summary>Enables (policy) or bypasses (frozen base = reference model) every adapter.</summary>
    public static void SetEnabled(CausalLM model, bool enabled)
    {
        var adapted = Adapted(model);
        if (adapted.Count == 0) throw new InvalidOperationException("this model has no LoRA adapters to enable or disable");
        foreach (var (_, layer) in adapted) layer.AdapterEnabled = enabled;
    }

    /// <summary>Folds every adapter into its base weight (W += (α/r)·B·A) and leaves a plain, fully trainable model.</summary>
    public static void Merge(CausalLM model)
    {
        foreach (var (_, layer) in Adapted(model))
        {
            if (!layer.AdapterEnabled) throw new InvalidOperationException("merging a disabled adapter would change the model; enable it first");
            layer.MergeAdapter();
        }
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = true;
        Attached.Remove(model);
    }

    /// <summary>
    /// Writes PEFT's adapter_config.json and adapter_model.safetensors (fp32) into <paramref name="dir"/>.
    /// Each file is written to a temporary name and renamed, the config last, so a reader never sees
    /// a half-written adapter.
    /// </summary>
    public static void SaveAdapter(CausalLM model, string dir, string baseModelPath)
    {
        var config = ConfigOf(model) ?? throw new InvalidOperationException("this model has no LoRA adapters to save");
        Directory.CreateDirectory(dir);
        var tensors = Adapted(model).SelectMany(a => new[]
        {
            ($"{KeyPrefix}{a.Name}.lora_A.weight", (Tensor)a.Layer.LoraA!),
            ($"{KeyPrefix}{a.Name}.lora_B.weight", (Tensor)a.Layer.LoraB!),
        }).ToList();
        SafetensorsTorch.Write(Path.Combine(dir, WeightsFileName), tensors);
        var json = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = model.HasLmHead ? "CAUSAL_LM" : "SEQ_CLS",
            ["base_model_name_or_path"] = baseModelPath,
            ["r"] = config.Rank,
            ["lora_alpha"] = config.Alpha,
            ["lora_dropout"] = config.Dropout,
            ["target_modules"] = new JsonArray(config.TargetModules.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["bias"] = "none",
            // GPT-2's c_attn/c_proj/c_fc are Conv1D in HF, which PEFT adapts with fan_in_fan_out; the
            // A/B shapes are the same either way, only PEFT's merge transposes.
            ["fan_in_fan_out"] = model.Config.Architecture == Architecture.Gpt2,
            ["inference_mode"] = true,
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["init_lora_weights"] = true,
            ["modules_to_save"] = null,
            ["layers_to_transform"] = null,
        };
        WriteAtomically(Path.Combine(dir, ConfigFileName), tmp => File.WriteAllText(tmp, json.ToJsonString(new() { WriteIndented = true })));
    }

    /// <summary>
    /// Adds the adapter saved in <paramref name="dir"/> (PEFT format) to <paramref name="model"/>.
    /// Strict: config keys that change the math must be supported, and every tensor must be present,
    /// expected and of the right shape; errors name the file and the key. The model is untouched on error.
    /// </summary>
    public static LoraConfig LoadAdapter(CausalLM model, string dir)
    {
        string configPath = Path.Combine(dir, ConfigFileName), weightsPath = Path.Combine(dir, WeightsFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{configPath}: adapter config not found", configPath);
        if (!File.Exists(weightsPath))
            throw new FileNotFoundException($"{weightsPath}: adapter weights not found (only safetensors adapters are supported, not adapter_model.bin)", weightsPath);
        var config = ReadConfig(configPath);
        var targets = Targets(model, config);

        using var reader = SafetensorsFile.Open(weightsPath);
        var expected = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, layer) in targets)
        {
            expected[$"{KeyPrefix}{name}.lora_A.weight"] = [config.Rank, layer.InFeatures];
            expected[$"{KeyPrefix}{name}.lora_B.weight"] = [layer.OutFeatures, config.Rank];
        }
        foreach (var (key, shape) in expected)
        {
            if (!reader.Tensors.TryGetValue(key, out var entry))
                throw new ModelFormatException($"{weightsPath}: missing tensor '{key}' (target_modules in {configPath} select it)");
            if (!entry.Shape.SequenceEqual(shape))
                throw new ModelFormatException($"{weightsPath}: tensor '{key}' has shape [{string.Join(", ", entry.Shape)}], " +
                    $"expected [{string.Join(", ", shape)}] (r = {config.Rank} in {configPath})");
        }
        var extra = reader.Tensors.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (extra.Count > 0)
            throw new ModelFormatException($"{weightsPath}: unexpected tensor '{extra[0]}'{(extra.Count > 1 ? $" and {extra.Count - 1} more" : "")} " +
                $"(not a LoRA factor of a {string.Join("/", config.TargetModules)} layer of this {model.Config.HfArchitectureName})");

        Apply(model, config);
        using var noGrad = no_grad();
        foreach (var (name, layer) in targets)
        {
            using var scope = NewDisposeScope();
            layer.LoraA!.copy_(WeightLoader.Read(reader, reader.Tensors[$"{KeyPrefix}{name}.lora_A.weight"]));
            layer.LoraB!.copy_(WeightLoader.Read(reader, reader.Tensors[$"{KeyPrefix}{name}.lora_B.weight"]));
        }
        return config;
    }

    static List<(string Name, Linear Layer)> Adapted(CausalLM model) => model.Linears().Where(l => l.Layer.HasAdapter).ToList();

    static string LastSegment(string path) => path[(path.LastIndexOf('.') + 1)..];

    /// <summary>The linear layers <paramref name="config"/> selects; every target must match at least one (catches typos).</summary>
    static List<(string Name, Linear Layer)> Targets(CausalLM model, LoraConfig config)
    {
        config.Validate();
        if (ConfigOf(model) is not null || model.Linears().Any(l => l.Layer.HasAdapter))
            throw new InvalidOperationException("this model already has LoRA adapters; merge or use a fresh model");
        var linears = model.Linears().ToList();
        var available = linears.Select(l => LastSegment(l.Name)).Distinct().ToList();
        var unmatched = config.TargetModules.Where(t => !available.Contains(t)).ToList();
        if (unmatched.Count > 0)
            throw new ArgumentException($"LoRA target modules [{string.Join(", ", unmatched)}] match no linear layer of this " +
                $"{model.Config.HfArchitectureName}; available: {string.Join(", ", available)}");
        return linears.Where(l => config.TargetModules.Contains(LastSegment(l.Name))).ToList();
    }

    static LoraConfig ReadConfig(string path)
    {
        JsonObject j;
        try { j = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ModelFormatException($"{path}: not a JSON object"); }
        catch (System.Text.Json.JsonException e) { throw new ModelFormatException($"{path}: invalid JSON ({e.Message})", e); }

        T Get<T>(string key, T? fallback = default, bool required = false)
        {
            var node = j[key];
            if (node is null) return required ? throw new ModelFormatException($"{path}: required key '{key}' is missing") : fallback!;
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            { throw new ModelFormatException($"{path}: key '{key}' has the wrong type: {node.ToJsonString()}"); }
        }
        void Unsupported(bool present, string key) { if (present) throw new NotSupportedException($"{path}: {key} = {j[key]?.ToJsonString()} is not supported"); }

        string peftType = Get<string>("peft_type", required: true);
        if (peftType != "LORA") throw new NotSupportedException($"{path}: peft_type is '{peftType}', expected 'LORA'");
        Unsupported(Get("bias", "none") != "none", "bias");
        Unsupported(Get("use_rslora", false), "use_rslora");       // would scale by α/√r instead of α/r
        Unsupported(Get("use_dora", false), "use_dora");
        Unsupported(j["modules_to_save"] is JsonArray { Count: > 0 }, "modules_to_save");
        Unsupported(j["rank_pattern"] is JsonObject { Count: > 0 }, "rank_pattern");
        Unsupported(j["alpha_pattern"] is JsonObject { Count: > 0 }, "alpha_pattern");
        Unsupported(j["layers_to_transform"] is not null, "layers_to_transform");
        var targets = j["target_modules"] switch
        {
            JsonArray a => a.Select(t => t?.GetValue<string>() ?? "").ToArray(),
            null => throw new ModelFormatException($"{path}: required key 'target_modules' is missing"),
            var other => throw new NotSupportedException($"{path}: target_modules = {other.ToJsonString()} is not supported (a list of module names only, not a regex)"),
        };
        var config = new LoraConfig
        {
            Rank = Get<int>("r", required: true),
            Alpha = Get<double>("lora_alpha", required: true),
            Dropout = Get("lora_dropout", 0.0),
            TargetModules = targets,
        };
        try { config.Validate(); }
        catch (ArgumentException e) { throw new ModelFormatException($"{path}: {e.Message}", e); }
        return config;
    }

    static void WriteAtomically(string path, Action<string> write)
    {
        string tmp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            write(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
    }
}
