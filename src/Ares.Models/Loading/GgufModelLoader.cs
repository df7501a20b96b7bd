using System.Text.RegularExpressions;
using Ares.Core.Formats;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Loading;

/// <summary>
/// Builds a model from a GGUF file: hyperparameters from `{arch}.*` metadata with llama.cpp's
/// defaults where keys are absent, tensors renamed from llama.cpp's names to HF's.
/// </summary>
/// <remarks>
/// RoPE layout: llama.cpp's converters permute the Q/K rows of `llama` checkpoints so that RoPE
/// rotates adjacent pairs (x[2i], x[2i+1]); HF rotates halves (x[i], x[i+d/2]). We undo that
/// permutation at load, so one runtime path (rotate-half) serves both sources and an HF export is
/// correct. `qwen2` GGUFs use the NeoX (rotate-half) layout already and are not permuted.
/// </remarks>
internal static partial class GgufModelLoader
{
    public static TransformerConfig ReadConfig(GgufFile g)
    {
        string path = g.FilePath;
        string arch = g.GetString("general.architecture") ?? throw new ModelFormatException($"{path}: metadata key 'general.architecture' is missing");
        var architecture = arch switch
        {
            "llama" => Architecture.Llama,
            "qwen2" => Architecture.Qwen2,
            "qwen3" => Architecture.Qwen3,
            "phi3" => Architecture.Phi3,
            "gemma2" => Architecture.Gemma2,
            "gemma3" => Architecture.Gemma3,
            _ => throw new NotSupportedException($"{path}: general.architecture = '{arch}' is not supported (llama, qwen2, qwen3, phi3, gemma2, gemma3)"),
        };
        if (!g.Tensors.TryGetValue("token_embd.weight", out var embd))
            throw new ModelFormatException($"{path}: tensor 'token_embd.weight' is missing" +
                (g.UnsupportedTensorTypes.TryGetValue("token_embd.weight", out var ut) ? $" (it has unsupported type {ut}; supported: {GgufFile.SupportedTypeNames})" : ""));
        int hidden = (int)g.Require<uint>($"{arch}.embedding_length");
        int heads = (int)g.Require<uint>($"{arch}.attention.head_count");
        if (g.Metadata.TryGetValue($"{arch}.attention.head_count_kv", out var kvRaw) && kvRaw is Array)
            throw new NotSupportedException($"{path}: per-layer '{arch}.attention.head_count_kv' is not supported");
        int kvHeads = (int)(g.Get<uint>($"{arch}.attention.head_count_kv") ?? (uint)heads);
        int headDim = (int)(g.Get<uint>($"{arch}.attention.key_length") ?? (uint)(hidden / Math.Max(heads, 1)));
        int ropeDims = (int)(g.Get<uint>($"{arch}.rope.dimension_count") ?? (uint)headDim);
        if (ropeDims != headDim && architecture != Architecture.Phi3)
            throw new NotSupportedException($"{path}: '{arch}.rope.dimension_count' = {ropeDims} (partial rotary) is not supported for {arch}; head dim is {headDim}");
        string scaling = g.GetString($"{arch}.rope.scaling.type") ?? "none";
        double linear = scaling switch
        {
            "none" => 1,
            "linear" => g.Get<float>($"{arch}.rope.scaling.factor") ?? 1,
            _ => throw new NotSupportedException($"{path}: '{arch}.rope.scaling.type' = '{scaling}' is not supported (none, linear)"),
        };
        var config = new TransformerConfig
        {
            Architecture = architecture,
            VocabSize = (int)embd.Shape[0],
            HiddenSize = hidden,
            IntermediateSize = (int)g.Require<uint>($"{arch}.feed_forward_length"),
            NumLayers = (int)g.Require<uint>($"{arch}.block_count"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            MaxPositions = (int)(g.Get<uint>($"{arch}.context_length") ?? 2048),
            NormEps = Shortest(g.Get<float>($"{arch}.attention.layer_norm_rms_epsilon") ?? 1e-5f),
            RopeTheta = Shortest(g.Get<float>($"{arch}.rope.freq_base") ?? 10000f),
            RopeLinearFactor = linear,
            TieWordEmbeddings = !g.Tensors.ContainsKey("output.weight") && !g.UnsupportedTensorTypes.ContainsKey("output.weight"),
            QkvBias = g.Tensors.ContainsKey("blk.0.attn_q.bias"),
            OutputBias = g.Tensors.ContainsKey("blk.0.attn_output.bias"),
            BosTokenId = (int?)g.Get<uint>("tokenizer.ggml.bos_token_id"),
            EosTokenIds = g.Get<uint>("tokenizer.ggml.eos_token_id") is uint eos ? [(int)eos] : [],
            PadTokenId = (int?)g.Get<uint>("tokenizer.ggml.padding_token_id"),
            TorchDtype = DominantDType(g),
        };
        if (architecture is Architecture.Gemma2 or Architecture.Gemma3) config = GemmaConfig.FromGguf(g, config);
        if (architecture == Architecture.Phi3) config = WithPhi3(g, config, ropeDims);
        config.Validate(path);
        return config;
    }

    /// <summary>
    /// Phi-3's extras in llama.cpp's form: partial rotary from rope.dimension_count, sliding_window
    /// (0 = none), LongRoPE as rope_factors_short/long.weight with rope.scaling.attn_factor and
    /// rope.scaling.original_context_length (convert_hf_to_gguf.py's Phi3MiniModel).
    /// </summary>
    static TransformerConfig WithPhi3(GgufFile g, TransformerConfig c, int ropeDims)
    {
        uint window = g.Get<uint>("phi3.attention.sliding_window") ?? 0;
        LongRopeScaling? longRope = null;
        bool hasShort = g.Tensors.TryGetValue("rope_factors_short.weight", out var shortEntry);
        bool hasLong = g.Tensors.TryGetValue("rope_factors_long.weight", out var longEntry);
        if (hasShort != hasLong)
            throw new ModelFormatException($"{g.FilePath}: LongRoPE needs both 'rope_factors_short.weight' and 'rope_factors_long.weight'; only one is present");
        if (hasShort)
        {
            double[] Factors(TensorEntry e)
            {
                using var t = WeightLoader.Read(g, e).to_type(ScalarType.Float64);
                return t.data<double>().ToArray();
            }
            longRope = new LongRopeScaling(Factors(shortEntry!), Factors(longEntry!),
                (int)(g.Get<uint>("phi3.rope.scaling.original_context_length") ?? (uint)c.MaxPositions),
                Shortest(g.Get<float>("phi3.rope.scaling.attn_factor") ?? 1f));
        }
        return c with
        {
            PartialRotaryFactor = (double)ropeDims / c.HeadDim,
            SlidingWindow = window > 0 ? (int)window : null,
            RopeLongRope = longRope,
        };
    }

    /// <summary>GGUF stores fp32; widen by the shortest round-trip string so 1e-5f becomes 1e-5, not 9.99999974e-6.</summary>
    static double Shortest(float f) => double.Parse(f.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    static string DominantDType(GgufFile g) =>
        g.Tensors.Values.GroupBy(t => t.DType).OrderByDescending(x => x.Sum(t => t.ByteLength)).First().Key switch
        {
            TensorDType.BF16 => "bfloat16",
            TensorDType.F16 => "float16",
            _ => "float32",
        };

    public static CausalLM Load(GgufFile g, TransformerConfig config, ScalarType dtype)
    {
        float[]? freqFactors = null;
        if (g.Tensors.TryGetValue("rope_freqs.weight", out var rf))
        {
            using var t = WeightLoader.Read(g, rf).to_type(ScalarType.Float32);
            freqFactors = t.data<float>().ToArray();
            if (freqFactors.Length != config.HeadDim / 2)
                throw new ModelFormatException($"{g.FilePath}: tensor 'rope_freqs.weight' has {freqFactors.Length} values, expected head_dim/2 = {config.HeadDim / 2}");
        }
        CausalLM model = config.Architecture switch
        {
            Architecture.Qwen3 => new Qwen3ForCausalLM(config, dtype),
            Architecture.Phi3 => new Phi3ForCausalLM(config, dtype),
            Architecture.Gemma2 or Architecture.Gemma3 => new GemmaForCausalLM(config, dtype),
            _ => new LlamaForCausalLM(config, dtype, freqFactors),
        };
        bool gemma = config.Architecture is Architecture.Gemma2 or Architecture.Gemma3;
        if (freqFactors is not null && config.Architecture is not (Architecture.Llama or Architecture.Qwen2))
            throw new NotSupportedException($"{g.FilePath}: tensor 'rope_freqs.weight' is not supported for {config.ModelType}");
        bool permute = config.Architecture == Architecture.Llama;
        WeightLoader.Load(model, g.FilePath, name =>
        {
            string? ggufName = GgufName(name, config.Architecture);
            if (ggufName is null) return null;
            if (!g.Tensors.TryGetValue(ggufName, out var e))
            {
                if (g.UnsupportedTensorTypes.TryGetValue(ggufName, out var type))
                    throw new NotSupportedException($"{g.FilePath}: tensor '{ggufName}' has type {type}, which Ares cannot load (supported: {GgufFile.SupportedTypeNames})");
                return null;
            }
            Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>? fix = null;
            if (permute && (ggufName.Contains(".attn_q.") || ggufName.Contains(".attn_k.")))
            {
                int heads = ggufName.Contains(".attn_q.") ? config.NumHeads : config.NumKvHeads;
                fix = w => UnpermuteRope(w, heads);
            }
            // llama.cpp's converter stores Gemma's norm weights with the 1 of (1 + weight) added; HF stores the offset.
            if (gemma && ggufName.EndsWith("norm.weight", StringComparison.Ordinal))
                fix = w => w.to_type(ScalarType.Float32).Plus(-1.0);
            return (e, g, fix);
        }, g.Tensors.Keys.Select(k => (k, (ITensorReader)g)), k => k is "rope_freqs.weight" or "rope_factors_short.weight" or "rope_factors_long.weight");
        foreach (var (name, type) in g.UnsupportedTensorTypes)
            throw new NotSupportedException($"{g.FilePath}: tensor '{name}' has type {type}, which Ares cannot load (supported: {GgufFile.SupportedTypeNames})");
        return model;
    }

    /// <summary>
    /// Inverse of llama.cpp's `permute` (convert_hf_to_gguf.py): rows of each head go from
    /// interleaved pairs back to halves. w: (heads·hd, in) or (heads·hd) for a bias.
    /// </summary>
    internal static TorchSharp.torch.Tensor UnpermuteRope(TorchSharp.torch.Tensor w, int heads)
    {
        long rows = w.shape[0], hd = rows / heads;
        var rest = w.shape.Skip(1).ToArray();
        return w.reshape([heads, hd / 2, 2, .. rest]).transpose(1, 2).reshape(w.shape).contiguous(); // (rows, ...)
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    private static partial Regex LayerKey();

    static readonly Dictionary<string, string> LayerNames = new()
    {
        ["input_layernorm.weight"] = "attn_norm.weight",
        ["post_attention_layernorm.weight"] = "ffn_norm.weight",
        ["self_attn.q_proj.weight"] = "attn_q.weight", ["self_attn.q_proj.bias"] = "attn_q.bias",
        ["self_attn.k_proj.weight"] = "attn_k.weight", ["self_attn.k_proj.bias"] = "attn_k.bias",
        ["self_attn.v_proj.weight"] = "attn_v.weight", ["self_attn.v_proj.bias"] = "attn_v.bias",
        ["self_attn.o_proj.weight"] = "attn_output.weight", ["self_attn.o_proj.bias"] = "attn_output.bias",
        ["self_attn.q_norm.weight"] = "attn_q_norm.weight", ["self_attn.k_norm.weight"] = "attn_k_norm.weight", // qwen3
        ["self_attn.qkv_proj.weight"] = "attn_qkv.weight",                                                     // phi3: fused [q; k; v]
        ["mlp.gate_up_proj.weight"] = "ffn_up.weight",                                                         // phi3: fused [gate; up]
        ["mlp.gate_proj.weight"] = "ffn_gate.weight",
        ["mlp.up_proj.weight"] = "ffn_up.weight",
        ["mlp.down_proj.weight"] = "ffn_down.weight",
    };

    /// <summary>Gemma's four norms per layer and its q/k norms (llama.cpp's gemma2/gemma3 tensor names).</summary>
    static readonly Dictionary<string, string> GemmaLayerNames = new()
    {
        ["post_attention_layernorm.weight"] = "post_attention_norm.weight",
        ["pre_feedforward_layernorm.weight"] = "ffn_norm.weight",
        ["post_feedforward_layernorm.weight"] = "post_ffw_norm.weight",
        ["self_attn.q_norm.weight"] = "attn_q_norm.weight",
        ["self_attn.k_norm.weight"] = "attn_k_norm.weight",
    };

    /// <summary>llama.cpp's tensor name for an HF parameter name of an <paramref name="architecture"/> model.</summary>
    internal static string? GgufName(string hfName, Architecture architecture)
    {
        if (architecture is Architecture.Gemma2 or Architecture.Gemma3 && LayerKey().Match(hfName) is { Success: true } m
            && GemmaLayerNames.TryGetValue(m.Groups[2].Value, out var gemma))
            return $"blk.{m.Groups[1].Value}.{gemma}";
        return GgufName(hfName);
    }

    /// <summary>llama.cpp's tensor name for an HF parameter name.</summary>
    internal static string? GgufName(string hfName)
    {
        switch (hfName)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
        }
        var m = LayerKey().Match(hfName);
        return m.Success && LayerNames.TryGetValue(m.Groups[2].Value, out var rest) ? $"blk.{m.Groups[1].Value}.{rest}" : null;
    }
}
