using System.Text.Json.Nodes;

namespace Ares.Models;

internal enum Architecture { Llama, Qwen2, Gpt2, Qwen3, Phi3, Mistral, Gemma2, Gemma3 }

/// <summary>Llama 3 frequency-dependent RoPE rescaling (HF `rope_scaling.rope_type = "llama3"`).</summary>
internal sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositions);

/// <summary>
/// Phi-3's LongRoPE (HF `rope_scaling.type = "longrope"` or `"su"`): inverse frequencies divided by
/// per-dimension factors, <see cref="ShortFactor"/> while the sequence fits <see cref="OriginalMaxPositions"/>,
/// <see cref="LongFactor"/> beyond; cos and sin scaled by <see cref="AttentionFactor"/>.
/// </summary>
internal sealed record LongRopeScaling(double[] ShortFactor, double[] LongFactor, int OriginalMaxPositions, double AttentionFactor);

/// <summary>
/// Hyperparameters of a decoder-only transformer: everything that changes the math. Built from
/// HF config.json (<see cref="FromHfConfig"/>) or GGUF metadata (see GgufModelLoader), written back
/// by <see cref="ToHfConfig"/>. Anything that would change the math and that Ares does not
/// implement raises NotSupportedException naming the key.
/// </summary>
internal sealed record TransformerConfig
{
    public required Architecture Architecture { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int MaxPositions { get; init; }
    /// <summary>RMSNorm eps (llama/qwen2) or LayerNorm eps (gpt2).</summary>
    public double NormEps { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 10000;
    /// <summary>HF `rope_scaling` type "linear": positions divided by this factor (1 = none).</summary>
    public double RopeLinearFactor { get; init; } = 1;
    public Llama3RopeScaling? RopeLlama3 { get; init; }
    public bool TieWordEmbeddings { get; init; }
    /// <summary>q/k/v projections carry a bias (Qwen2; Llama with attention_bias=true also biases o_proj).</summary>
    public bool QkvBias { get; init; }
    public bool OutputBias { get; init; }
    public bool MlpBias { get; init; }
    /// <summary>silu (SwiGLU, llama/qwen2), gelu_new (tanh approximation, gpt2) or gelu (exact).</summary>
    public string HiddenAct { get; init; } = "silu";
    /// <summary>Sliding-window attention (Mistral, Phi-3, Qwen with use_sliding_window): query i sees key j iff i − j &lt; window; null = full attention.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Per layer: true = sliding-window attention (HF `layer_types` "sliding_attention"); null = no per-layer windows (Gemma sets it).</summary>
    public IReadOnlyList<bool>? SlidingLayers { get; init; }
    /// <summary>Gemma: attention scores are scaled by this^-0.5 (HF `query_pre_attn_scalar`); null = head_dim.</summary>
    public double? QueryPreAttnScalar { get; init; }
    /// <summary>Gemma 2: attention scores become c·tanh(s/c) before the mask (HF `attn_logit_softcapping`); null = none.</summary>
    public double? AttnLogitSoftcap { get; init; }
    /// <summary>Gemma 2: LM logits become c·tanh(z/c) (HF `final_logit_softcapping`); null = none.</summary>
    public double? FinalLogitSoftcap { get; init; }
    /// <summary>Gemma 3: rope base of the sliding layers (HF `rope_local_base_freq`, no scaling); global layers use RopeTheta.</summary>
    public double? RopeLocalTheta { get; init; }
    /// <summary>First layer that uses <see cref="SlidingWindow"/> (Qwen's max_window_layers; 0 = every layer); ignored when <see cref="SlidingLayers"/> is set.</summary>
    public int SlidingWindowFromLayer { get; init; }
    /// <summary>Fraction of each head's dims that RoPE rotates (Phi-3 `partial_rotary_factor`); the rest pass through.</summary>
    public double PartialRotaryFactor { get; init; } = 1;
    public LongRopeScaling? RopeLongRope { get; init; }
    public int? BosTokenId { get; init; }
    public int[] EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    /// <summary>Outputs of a `*ForSequenceClassification` head (`score.weight`); null for a causal LM.</summary>
    public int? NumLabels { get; init; }
    /// <summary>Class names of the score head (config.json `id2label`), e.g. ["safe", "unsafe"]; null = HF's default LABEL_i.</summary>
    public IReadOnlyList<string>? LabelNames { get; init; }
    /// <summary>dtype the checkpoint declares (informational; compute dtype is chosen at load).</summary>
    public string TorchDtype { get; init; } = "float32";

    /// <summary>The longest sequence the model reads (a sliding window masks keys; it does not shorten the context).</summary>
    public int MaxSequenceLength => MaxPositions;

    /// <summary>Dims of each head that RoPE rotates (even).</summary>
    public int RotaryDim => (int)(HeadDim * PartialRotaryFactor) / 2 * 2;

    /// <summary>The attention window of layer <paramref name="layer"/>, or null when it attends to every earlier key.</summary>
    public int? WindowOf(int layer) => SlidingLayers is { } sliding
        ? (sliding[layer] ? SlidingWindow : null)
        : (layer >= SlidingWindowFromLayer ? SlidingWindow : null);

    public string ModelType => Architecture switch
    {
        Architecture.Llama => "llama",
        Architecture.Qwen2 => "qwen2",
        Architecture.Qwen3 => "qwen3",
        Architecture.Phi3 => "phi3",
        Architecture.Mistral => "mistral",
        Architecture.Gemma2 => "gemma2",
        Architecture.Gemma3 => "gemma3_text",
        _ => "gpt2",
    };

    public string HfArchitectureName => (Architecture, NumLabels) switch
    {
        (Architecture.Llama, null) => "LlamaForCausalLM",
        (Architecture.Qwen2, null) => "Qwen2ForCausalLM",
        (Architecture.Gpt2, null) => "GPT2LMHeadModel",
        (Architecture.Gemma2, null) => "Gemma2ForCausalLM",
        (Architecture.Gemma3, null) => "Gemma3ForCausalLM",
        (Architecture.Gemma2, _) => "Gemma2ForSequenceClassification",
        (Architecture.Gemma3, _) => "Gemma3TextForSequenceClassification",
        (Architecture.Qwen3, null) => "Qwen3ForCausalLM",
        (Architecture.Phi3, null) => "Phi3ForCausalLM",
        (Architecture.Mistral, null) => "MistralForCausalLM",
        (Architecture.Llama, _) => "LlamaForSequenceClassification",
        (Architecture.Qwen2, _) => "Qwen2ForSequenceClassification",
        (Architecture.Qwen3, _) => "Qwen3ForSequenceClassification",
        (Architecture.Phi3, _) => "Phi3ForSequenceClassification",
        (Architecture.Mistral, _) => "MistralForSequenceClassification",
        _ => "GPT2ForSequenceClassification",
    };

    /// <summary>Checks internal consistency; the message names the offending field.</summary>
    public void Validate(string source)
    {
        void Need(bool ok, string what) { if (!ok) throw new NotSupportedException($"{source}: {what}"); }
        Need(VocabSize is > 0 and <= 4_000_000, $"vocab_size = {VocabSize} is out of range");
        Need(HiddenSize is > 0 and <= 65_536, $"hidden_size = {HiddenSize} is out of range");
        Need(IntermediateSize is > 0 and <= 1_048_576, $"intermediate_size = {IntermediateSize} is out of range");
        Need(NumLayers is > 0 and <= 1024, $"num_hidden_layers = {NumLayers} is out of range");
        Need(NumHeads is > 0 and <= 1024, $"num_attention_heads = {NumHeads} is out of range");
        Need(NumKvHeads > 0 && NumHeads % NumKvHeads == 0, $"num_key_value_heads = {NumKvHeads} must divide num_attention_heads = {NumHeads}");
        Need(HeadDim is > 0 and <= 1024 && HeadDim % 2 == 0, $"head_dim = {HeadDim} must be even and ≤ 1024");
        Need(MaxPositions is > 0 and <= 10_000_000, $"max_position_embeddings = {MaxPositions} is out of range");
        Need(HiddenAct is "silu" or "gelu_new" or "gelu" or "gelu_pytorch_tanh", $"hidden_act = '{HiddenAct}' is not supported (silu, gelu, gelu_new, gelu_pytorch_tanh)");
        Need(Architecture != Architecture.Gpt2 || NumHeads * HeadDim == HiddenSize, $"n_embd = {HiddenSize} must equal n_head × head_dim");
        Need(NumLabels is null or (> 0 and <= 65_536), $"num_labels = {NumLabels} is out of range");
        Need(LabelNames is null || LabelNames.Count == NumLabels, $"id2label has {LabelNames?.Count} names but num_labels = {NumLabels}");
        Need(SlidingLayers is null || SlidingLayers.Count == NumLayers, $"layer_types has {SlidingLayers?.Count} entries but num_hidden_layers = {NumLayers}");
        Need(SlidingLayers is null || !SlidingLayers.Contains(true) || SlidingWindow is > 0, $"sliding_window = {SlidingWindow} must be a positive integer");
        Need(AttnLogitSoftcap is null or > 0, $"attn_logit_softcapping = {AttnLogitSoftcap} must be positive or null");
        Need(FinalLogitSoftcap is null or > 0, $"final_logit_softcapping = {FinalLogitSoftcap} must be positive or null");
        Need(QueryPreAttnScalar is null or > 0, $"query_pre_attn_scalar = {QueryPreAttnScalar} must be positive");
        Need(SlidingWindow is null or > 0, $"sliding_window = {SlidingWindow} must be positive");
        Need(PartialRotaryFactor is > 0 and <= 1 && RotaryDim > 0, $"partial_rotary_factor = {PartialRotaryFactor} must be in (0, 1] and leave an even number ≥ 2 of rotated dims");
        Need(RopeLongRope is null || (RopeLongRope.ShortFactor.Length == RotaryDim / 2 && RopeLongRope.LongFactor.Length == RotaryDim / 2),
            $"rope_scaling.short_factor and long_factor must each have rotary_dim/2 = {RotaryDim / 2} values, found {RopeLongRope?.ShortFactor.Length} and {RopeLongRope?.LongFactor.Length}");
    }

    // ---------------------------------------------------------------- HF config.json

    /// <summary>Parses HF config.json. <paramref name="path"/> is used in messages.</summary>
    public static TransformerConfig FromHfConfig(JsonObject j, string path)
    {
        string modelType = Str(j, "model_type", path) ?? throw new NotSupportedException($"{path}: 'model_type' is missing");
        var archs = j["architectures"] is JsonArray a ? a.Select(x => x?.GetValue<string>() ?? "").ToArray() : [];
        int? numLabels = archs.Any(x => x.EndsWith("ForSequenceClassification", StringComparison.Ordinal))
            ? Int(j, "num_labels", path) ?? (j["id2label"] is JsonObject l ? l.Count : 2) : null;
        var cfg = modelType switch
        {
            "llama" or "mistral" or "qwen2" or "qwen3" => FromLlamaLike(j, path, modelType),
            "phi3" => FromPhi3(j, path),
            "gpt2" => FromGpt2(j, path),
            "gemma2" or "gemma3_text" => GemmaConfig.FromHf(j, path, modelType),
            "gemma3" => j["text_config"] is JsonObject text ? GemmaConfig.FromHf(text, $"{path} (text_config)", "gemma3_text")
                : throw new NotSupportedException($"{path}: model_type 'gemma3' (Gemma3ForConditionalGeneration) needs a 'text_config' object: Ares loads its language model only"),
            _ => throw new NotSupportedException($"{path}: model_type '{modelType}' is not supported (llama, mistral, qwen2, qwen3, phi3, gpt2, gemma2, gemma3_text, gemma3)"),
        };
        cfg = cfg with
        {
            NumLabels = numLabels,
            LabelNames = numLabels is int n ? ReadLabelNames(j, n) : null,
            BosTokenId = Int(j, "bos_token_id", path),
            EosTokenIds = IdList(j, "eos_token_id", path),
            PadTokenId = Int(j, "pad_token_id", path),
            TorchDtype = Str(j, "torch_dtype", path) ?? Str(j, "dtype", path) ?? "float32",
        };
        cfg.Validate(path);
        return cfg;
    }

    static TransformerConfig FromLlamaLike(JsonObject j, string path, string modelType)
    {
        if ((Int(j, "pretraining_tp", path) ?? 1) != 1) throw new NotSupportedException($"{path}: pretraining_tp = {j["pretraining_tp"]} is not supported (only 1)");
        int hidden = Req(j, "hidden_size", path), heads = Req(j, "num_attention_heads", path);
        int maxPos = Int(j, "max_position_embeddings", path) ?? 2048;
        bool isQwen2 = modelType == "qwen2", isQwen3 = modelType == "qwen3";
        int? window = null;
        int windowFrom = 0;
        if (isQwen2 || isQwen3)
        {
            // HF Qwen2/Qwen3Config: layers from max_window_layers on use sliding_window, only when use_sliding_window (false in real checkpoints).
            if (Bool(j, "use_sliding_window", path) == true && Int(j, "sliding_window", path) is int qw)
            {
                window = qw;
                windowFrom = Int(j, "max_window_layers", path) ?? 28;
            }
            // Newer saves spell the per-layer choice out; Ares supports the max_window_layers pattern only, so it must agree.
            if (j["layer_types"] is JsonArray types)
            {
                int from = windowFrom;
                var expected = Enumerable.Range(0, Req(j, "num_hidden_layers", path)).Select(i => window is not null && i >= from ? "sliding_attention" : "full_attention");
                if (!types.Select(x => x is JsonValue v && v.TryGetValue<string>(out var t) ? t : "?").SequenceEqual(expected))
                    throw new NotSupportedException($"{path}: layer_types = {types.ToJsonString()} is not supported: Ares needs full_attention below " +
                        $"max_window_layers and sliding_attention from it on (or all full_attention when use_sliding_window is false)");
            }
        }
        else if (modelType == "mistral" && Int(j, "sliding_window", path) is int w) window = w;
        bool attnBias = Bool(j, "attention_bias", path) ?? false;
        var (linear, llama3) = ParseRopeScaling(j, path);
        return new TransformerConfig
        {
            Architecture = modelType switch
            {
                "qwen2" => Architecture.Qwen2,
                "qwen3" => Architecture.Qwen3,
                "mistral" => Architecture.Mistral,
                _ => Architecture.Llama,
            },
            VocabSize = Req(j, "vocab_size", path),
            HiddenSize = hidden,
            IntermediateSize = Req(j, "intermediate_size", path),
            NumLayers = Req(j, "num_hidden_layers", path),
            NumHeads = heads,
            NumKvHeads = Int(j, "num_key_value_heads", path) ?? heads,
            HeadDim = Int(j, "head_dim", path) ?? (isQwen3 ? 128 : hidden / heads), // Qwen3Config's default head_dim is 128, not hidden/heads
            MaxPositions = maxPos,
            NormEps = Dbl(j, "rms_norm_eps", path) ?? 1e-6,
            RopeTheta = Dbl(j, "rope_theta", path) ?? 10000,
            RopeLinearFactor = linear,
            RopeLlama3 = llama3,
            TieWordEmbeddings = Bool(j, "tie_word_embeddings", path) ?? false, // transformers' default for llama and qwen2
            QkvBias = isQwen2 || attnBias,
            OutputBias = !isQwen2 && attnBias,
            MlpBias = Bool(j, "mlp_bias", path) ?? false,
            HiddenAct = Str(j, "hidden_act", path) ?? "silu",
            SlidingWindow = window,
            SlidingWindowFromLayer = windowFrom,
        };
    }

    /// <summary>Phi-3 (HF Phi3Config): fused qkv/gate-up projections, partial rotary, LongRoPE, sliding window.</summary>
    static TransformerConfig FromPhi3(JsonObject j, string path)
    {
        int hidden = Req(j, "hidden_size", path), heads = Req(j, "num_attention_heads", path);
        int maxPos = Int(j, "max_position_embeddings", path) ?? 4096;
        int headDim = Int(j, "head_dim", path) ?? hidden / heads;
        double partial = Dbl(j, "partial_rotary_factor", path) ?? 1;
        LongRopeScaling? longRope = null;
        if (j["rope_scaling"] is JsonObject rs)
        {
            string type = Str(rs, "rope_type", path) ?? Str(rs, "type", path) ?? "default";
            if (type is "longrope" or "su")
            {
                double[] Factors(string key) => rs[key] is JsonArray arr
                    ? arr.Select(x => As<double>(x ?? JsonValue.Create("null"), $"rope_scaling.{key}", path, "a list of numbers")).ToArray()
                    : throw new NotSupportedException($"{path}: rope_scaling.{key} is missing (longrope needs short_factor and long_factor)");
                // HF's _compute_longrope_parameters: with original_max_position_embeddings, factor = max / original (else
                // rope_scaling.factor over max); attention scaled by √(1 + ln factor / ln original) unless attention_factor is given.
                int? original = Int(j, "original_max_position_embeddings", path) ?? Int(rs, "original_max_position_embeddings", path);
                int originalMax = original ?? maxPos;
                double s = original is int o ? (double)maxPos / o : Dbl(rs, "factor", path) ?? 1;
                double attention = Dbl(rs, "attention_factor", path) ?? (s <= 1 ? 1 : Math.Sqrt(1 + Math.Log(s) / Math.Log(originalMax)));
                longRope = new LongRopeScaling(Factors("short_factor"), Factors("long_factor"), originalMax, attention);
            }
            else if (type != "default")
                throw new NotSupportedException($"{path}: rope_scaling type '{type}' is not supported for phi3 (default, longrope, su)");
        }
        return new TransformerConfig
        {
            Architecture = Architecture.Phi3,
            VocabSize = Req(j, "vocab_size", path),
            HiddenSize = hidden,
            IntermediateSize = Req(j, "intermediate_size", path),
            NumLayers = Req(j, "num_hidden_layers", path),
            NumHeads = heads,
            NumKvHeads = Int(j, "num_key_value_heads", path) ?? heads,
            HeadDim = headDim,
            MaxPositions = maxPos,
            NormEps = Dbl(j, "rms_norm_eps", path) ?? 1e-5,
            RopeTheta = Dbl(j, "rope_theta", path) ?? 10000,
            RopeLongRope = longRope,
            PartialRotaryFactor = partial,
            TieWordEmbeddings = Bool(j, "tie_word_embeddings", path) ?? false,
            HiddenAct = Str(j, "hidden_act", path) ?? "silu",
            SlidingWindow = Int(j, "sliding_window", path),
        };
    }

    internal static (double Linear, Llama3RopeScaling? Llama3) ParseRopeScaling(JsonObject j, string path)
    {
        if (j["rope_scaling"] is not JsonObject rs) return (1, null);
        string type = Str(rs, "rope_type", path) ?? Str(rs, "type", path) ?? "default";
        switch (type)
        {
            case "default": return (1, null);
            case "linear": return (Dbl(rs, "factor", path) ?? throw new NotSupportedException($"{path}: rope_scaling.factor is missing"), null);
            case "llama3":
                return (1, new Llama3RopeScaling(
                    Dbl(rs, "factor", path) ?? throw new NotSupportedException($"{path}: rope_scaling.factor is missing"),
                    Dbl(rs, "low_freq_factor", path) ?? 1, Dbl(rs, "high_freq_factor", path) ?? 4,
                    Int(rs, "original_max_position_embeddings", path) ?? 8192));
            default:
                throw new NotSupportedException($"{path}: rope_scaling type '{type}' is not supported (default, linear, llama3)");
        }
    }

    static TransformerConfig FromGpt2(JsonObject j, string path)
    {
        if (Bool(j, "scale_attn_by_inverse_layer_idx", path) == true) throw new NotSupportedException($"{path}: scale_attn_by_inverse_layer_idx = true is not supported");
        if (Bool(j, "scale_attn_weights", path) == false) throw new NotSupportedException($"{path}: scale_attn_weights = false is not supported");
        int hidden = Req(j, "n_embd", path), heads = Req(j, "n_head", path);
        return new TransformerConfig
        {
            Architecture = Architecture.Gpt2,
            VocabSize = Req(j, "vocab_size", path),
            HiddenSize = hidden,
            IntermediateSize = Int(j, "n_inner", path) ?? 4 * hidden,
            NumLayers = Req(j, "n_layer", path),
            NumHeads = heads,
            NumKvHeads = heads,
            HeadDim = heads > 0 ? hidden / heads : 0,
            MaxPositions = Int(j, "n_positions", path) ?? 1024,
            NormEps = Dbl(j, "layer_norm_epsilon", path) ?? 1e-5,
            TieWordEmbeddings = true,
            QkvBias = true, OutputBias = true, MlpBias = true,
            HiddenAct = Str(j, "activation_function", path) ?? "gelu_new",
        };
    }

    /// <summary>HF config.json that transformers (and this runtime) load back to the same model.</summary>
    public JsonObject ToHfConfig()
    {
        var j = new JsonObject { ["architectures"] = new JsonArray(HfArchitectureName), ["model_type"] = ModelType };
        if (Architecture == Architecture.Gpt2)
        {
            j["vocab_size"] = VocabSize; j["n_embd"] = HiddenSize; j["n_inner"] = IntermediateSize; j["n_layer"] = NumLayers;
            j["n_head"] = NumHeads; j["n_positions"] = MaxPositions; j["n_ctx"] = MaxPositions; j["layer_norm_epsilon"] = NormEps;
            j["activation_function"] = HiddenAct; j["tie_word_embeddings"] = true;
        }
        else
        {
            j["vocab_size"] = VocabSize; j["hidden_size"] = HiddenSize; j["intermediate_size"] = IntermediateSize;
            j["num_hidden_layers"] = NumLayers; j["num_attention_heads"] = NumHeads; j["num_key_value_heads"] = NumKvHeads;
            j["head_dim"] = HeadDim; j["max_position_embeddings"] = MaxPositions; j["rms_norm_eps"] = NormEps;
            j["rope_theta"] = RopeTheta; j["tie_word_embeddings"] = TieWordEmbeddings; j["hidden_act"] = HiddenAct;
            if (Architecture != Architecture.Phi3) j["mlp_bias"] = MlpBias;
            if (Architecture is Architecture.Llama or Architecture.Mistral or Architecture.Qwen3 or Architecture.Gemma2 or Architecture.Gemma3) j["attention_bias"] = QkvBias;
            if (Architecture is Architecture.Qwen2 or Architecture.Qwen3)
            {
                j["use_sliding_window"] = SlidingWindow is not null;
                if (SlidingWindow is int qw) { j["sliding_window"] = qw; j["max_window_layers"] = SlidingWindowFromLayer; }
            }
            if (Architecture is Architecture.Mistral or Architecture.Phi3) j["sliding_window"] = SlidingWindow is int sw ? sw : null;
            if (Architecture == Architecture.Phi3)
            {
                j["partial_rotary_factor"] = PartialRotaryFactor;
                if (RopeLongRope is { } lr)
                {
                    j["original_max_position_embeddings"] = lr.OriginalMaxPositions;
                    j["rope_scaling"] = new JsonObject
                    {
                        ["type"] = "longrope", ["attention_factor"] = lr.AttentionFactor,
                        ["short_factor"] = new JsonArray(lr.ShortFactor.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
                        ["long_factor"] = new JsonArray(lr.LongFactor.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
                    };
                }
            }
            if (Architecture is Architecture.Gemma2 or Architecture.Gemma3) GemmaConfig.WriteHf(this, j);
            if (RopeLlama3 is { } r)
                j["rope_scaling"] = new JsonObject
                {
                    ["rope_type"] = "llama3", ["factor"] = r.Factor, ["low_freq_factor"] = r.LowFreqFactor,
                    ["high_freq_factor"] = r.HighFreqFactor, ["original_max_position_embeddings"] = r.OriginalMaxPositions,
                };
            else if (RopeLinearFactor != 1) j["rope_scaling"] = new JsonObject { ["rope_type"] = "linear", ["factor"] = RopeLinearFactor };
        }
        if (NumLabels is int n)
        {
            j["num_labels"] = n;
            string Name(int i) => LabelNames?[i] ?? $"LABEL_{i}";
            j["id2label"] = new JsonObject(Enumerable.Range(0, n).Select(i => KeyValuePair.Create($"{i}", (JsonNode?)JsonValue.Create(Name(i)))));
            j["label2id"] = new JsonObject(Enumerable.Range(0, n).Select(i => KeyValuePair.Create(Name(i), (JsonNode?)JsonValue.Create(i))));
        }
        if (BosTokenId is int b) j["bos_token_id"] = b;
        if (EosTokenIds.Length == 1) j["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Length > 1) j["eos_token_id"] = new JsonArray(EosTokenIds.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray());
        if (PadTokenId is int p) j["pad_token_id"] = p;
        j["torch_dtype"] = TorchDtype;
        return j;
    }

    /// <summary>id2label's names in index order; null when absent or all HF defaults (LABEL_i). Names only label outputs, so a partial map is ignored.</summary>
    static string[]? ReadLabelNames(JsonObject j, int n)
    {
        if (j["id2label"] is not JsonObject map) return null;
        var names = new string[n];
        for (int i = 0; i < n; i++)
        {
            if (map[$"{i}"] is not JsonValue v || !v.TryGetValue<string>(out var name)) return null;
            names[i] = name;
        }
        return names.Select((x, i) => x == $"LABEL_{i}").All(d => d) ? null : names;
    }

    // Typed accessors that name the key and file on a type mismatch.
    internal static int Req(JsonObject j, string key, string path) => Int(j, key, path) ?? throw new NotSupportedException($"{path}: required key '{key}' is missing");
    internal static int? Int(JsonObject j, string key, string path) => j[key] is { } n ? As<int>(n, key, path, "an integer") : null;
    internal static double? Dbl(JsonObject j, string key, string path) => j[key] is { } n ? As<double>(n, key, path, "a number") : null;
    internal static bool? Bool(JsonObject j, string key, string path) => j[key] is { } n ? As<bool>(n, key, path, "true or false") : null;
    internal static string? Str(JsonObject j, string key, string path) => j[key] is { } n ? As<string>(n, key, path, "a string") : null;

    /// <summary>An id or a list of ids (HF writes `eos_token_id` either way).</summary>
    internal static int[] IdList(JsonObject j, string key, string path) => j[key] switch
    {
        null => [],
        JsonArray arr => arr.Select(x => As<int>(x ?? JsonValue.Create("null"), key, path, "an integer or a list of integers")).ToArray(),
        var n => [As<int>(n, key, path, "an integer or a list of integers")],
    };

    static T As<T>(JsonNode n, string key, string path, string expected)
    {
        try { return n.GetValue<T>(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        { throw new NotSupportedException($"{path}: key '{key}' must be {expected}, found {n.ToJsonString()}"); }
    }
}
