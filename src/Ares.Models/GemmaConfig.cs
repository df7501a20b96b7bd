using System.Globalization;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using static Ares.Models.TransformerConfig;

namespace Ares.Models;

/// <summary>
/// Gemma 2 / Gemma 3 (text) hyperparameters from HF config.json or llama.cpp GGUF metadata, and back.
/// Defaults are transformers' Gemma2Config / Gemma3TextConfig defaults (what a config without the key means).
/// </summary>
internal static class GemmaConfig
{
    public static TransformerConfig FromHf(JsonObject j, string path, string modelType)
    {
        bool g3 = modelType == "gemma3_text";
        if (Bool(j, "use_bidirectional_attention", path) == true)
            throw new NotSupportedException($"{path}: use_bidirectional_attention = true (EmbeddingGemma) is not supported");
        // Gemma 3 checkpoints' text_config often holds only what differs from these defaults (e.g. gemma-3-4b-it).
        int hidden = Int(j, "hidden_size", path) ?? 2304, heads = Int(j, "num_attention_heads", path) ?? 8, layers = Int(j, "num_hidden_layers", path) ?? 26;
        int? window = j.ContainsKey("sliding_window") ? Int(j, "sliding_window", path) : 4096;
        var sliding = new bool[layers];
        if (j["layer_types"] is JsonArray types)
        {
            if (types.Count != layers) throw new NotSupportedException($"{path}: layer_types has {types.Count} entries but num_hidden_layers = {layers}");
            for (int i = 0; i < layers; i++)
                sliding[i] = (types[i] as JsonValue)?.TryGetValue<string>(out var t) == true ? t switch
                {
                    "sliding_attention" => true,
                    "full_attention" => false,
                    _ => throw new NotSupportedException($"{path}: layer_types[{i}] = '{t}' is not supported (sliding_attention, full_attention)"),
                } : throw new NotSupportedException($"{path}: layer_types[{i}] must be a string, found {types[i]?.ToJsonString() ?? "null"}");
        }
        else
        {
            // HF's defaults: Gemma 2 alternates starting with a sliding layer; Gemma 3 has one global layer in every `sliding_window_pattern`.
            int pattern = g3 ? Int(j, "sliding_window_pattern", path) ?? 6 : 2;
            if (pattern < 1) throw new NotSupportedException($"{path}: sliding_window_pattern = {pattern} must be ≥ 1");
            for (int i = 0; i < layers; i++) sliding[i] = (i + 1) % pattern != 0;
        }
        if (window is null) Array.Fill(sliding, false);

        double theta, linear;
        double? localTheta = null;
        if (j["rope_parameters"] is JsonObject rp) // transformers ≥ 5: per layer type
        {
            var full = rp["full_attention"] as JsonObject ?? rp;
            theta = Dbl(full, "rope_theta", path) ?? (g3 ? 1e6 : 10000);
            linear = RopeLinear(full, path, "rope_parameters.full_attention");
            if (rp["sliding_attention"] is JsonObject local)
            {
                if (RopeLinear(local, path, "rope_parameters.sliding_attention") != 1)
                    throw new NotSupportedException($"{path}: rope_parameters.sliding_attention: scaled local rope is not supported");
                localTheta = Dbl(local, "rope_theta", path);
            }
            if (g3) localTheta ??= 10000;
        }
        else
        {
            theta = Dbl(j, "rope_theta", path) ?? (g3 ? 1e6 : 10000);
            var (lin, llama3) = ParseRopeScaling(j, path);
            if (llama3 is not null) throw new NotSupportedException($"{path}: rope_scaling type 'llama3' is not supported for {modelType}");
            linear = lin;
            if (g3) localTheta = Dbl(j, "rope_local_base_freq", path) ?? 10000;
        }
        bool bias = Bool(j, "attention_bias", path) ?? false;
        double? Cap(string key, double? dflt) => j.ContainsKey(key) ? Dbl(j, key, path) : dflt;
        return new TransformerConfig
        {
            Architecture = g3 ? Architecture.Gemma3 : Architecture.Gemma2,
            VocabSize = Int(j, "vocab_size", path) ?? (g3 ? 262_208 : 256_000),
            HiddenSize = hidden,
            IntermediateSize = Int(j, "intermediate_size", path) ?? 9216,
            NumLayers = layers,
            NumHeads = heads,
            NumKvHeads = Int(j, "num_key_value_heads", path) ?? 4,
            HeadDim = Int(j, "head_dim", path) ?? 256,
            MaxPositions = Int(j, "max_position_embeddings", path) ?? (g3 ? 131072 : 8192),
            NormEps = Dbl(j, "rms_norm_eps", path) ?? 1e-6,
            RopeTheta = theta,
            RopeLinearFactor = linear,
            RopeLocalTheta = localTheta,
            TieWordEmbeddings = Bool(j, "tie_word_embeddings", path) ?? true,
            QkvBias = bias,
            OutputBias = bias,
            // Gemma's modelling code reads hidden_activation (hidden_act is a legacy Gemma 1 key it ignores).
            HiddenAct = Str(j, "hidden_activation", path) ?? "gelu_pytorch_tanh",
            SlidingWindow = window,
            SlidingLayers = sliding,
            QueryPreAttnScalar = Dbl(j, "query_pre_attn_scalar", path) ?? 256,
            AttnLogitSoftcap = Cap("attn_logit_softcapping", g3 ? null : 50.0),
            FinalLogitSoftcap = Cap("final_logit_softcapping", g3 ? null : 30.0),
        };
    }

    static double RopeLinear(JsonObject o, string path, string where)
    {
        string type = Str(o, "rope_type", path) ?? Str(o, "type", path) ?? "default";
        return type switch
        {
            "default" => 1,
            "linear" => Dbl(o, "factor", path) ?? throw new NotSupportedException($"{path}: {where}.factor is missing"),
            _ => throw new NotSupportedException($"{path}: {where}.rope_type '{type}' is not supported (default, linear)"),
        };
    }

    /// <summary>The Gemma keys of config.json (the shared keys are written by <see cref="TransformerConfig.ToHfConfig"/>).</summary>
    public static void WriteHf(TransformerConfig c, JsonObject j)
    {
        j["hidden_activation"] = c.HiddenAct;
        j["query_pre_attn_scalar"] = c.QueryPreAttnScalar ?? c.HeadDim;
        j["sliding_window"] = c.SlidingWindow;
        j["layer_types"] = new JsonArray((c.SlidingLayers ?? new bool[c.NumLayers])
            .Select(s => (JsonNode?)JsonValue.Create(s ? "sliding_attention" : "full_attention")).ToArray());
        j["attn_logit_softcapping"] = c.AttnLogitSoftcap;
        j["final_logit_softcapping"] = c.FinalLogitSoftcap;
        if (c.RopeLocalTheta is double local) j["rope_local_base_freq"] = local;
        j.Remove("mlp_bias");
    }

    /// <summary>
    /// The Gemma parts of llama.cpp's `gemma2` / `gemma3` metadata, as llama-model.cpp reads them: window pattern 2
    /// (gemma2) or 6 (gemma3), gemma2's soft-caps defaulting to 50 / 30, gemma3's local rope base fixed at 10000,
    /// and attention scaled by head_dim^-0.5 except in the 27B models (hidden/heads).
    /// </summary>
    public static TransformerConfig FromGguf(GgufFile g, TransformerConfig c)
    {
        bool g3 = c.Architecture == Architecture.Gemma3;
        string arch = g3 ? "gemma3" : "gemma2";
        int? window = g.Get<uint>($"{arch}.attention.sliding_window") is uint w && w > 0 ? (int)w : g3 ? null : 4096;
        int pattern = g3 ? 6 : 2;
        var sliding = Enumerable.Range(0, c.NumLayers).Select(i => window is not null && i % pattern < pattern - 1).ToArray();
        bool is27B = c.NumLayers == (g3 ? 62 : 46);
        return c with
        {
            HiddenAct = "gelu_pytorch_tanh",
            SlidingWindow = window,
            SlidingLayers = sliding,
            QueryPreAttnScalar = is27B ? c.HiddenSize / c.NumHeads : c.HeadDim,
            AttnLogitSoftcap = g3 ? null : Shortest(g.Get<float>("gemma2.attn_logit_softcapping") ?? 50f),
            FinalLogitSoftcap = g.Get<float>($"{arch}.final_logit_softcapping") is float f && f > 0 ? Shortest(f) : g3 ? null : 30,
            RopeLocalTheta = g3 ? 10000 : null,
        };
    }

    static double Shortest(float f) => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
