using System.Text.Json.Nodes;
using Ares.Core.Formats;

namespace Ares.Models.Tests;

/// <summary>
/// Random weights for a <see cref="ReferenceSpec"/> under their HF checkpoint keys (values rounded to
/// fp32, so the float64 reference and Ares read the same numbers), written as a Hugging Face directory
/// (hand-written config.json + model.safetensors) or as a llama.cpp-style GGUF.
/// </summary>
internal sealed class TinyCheckpoint
{
    public ReferenceSpec Spec { get; }
    public Dictionary<string, double[]> Weights { get; } = [];
    readonly Dictionary<string, long[]> _shapes = [];

    public TinyCheckpoint(ReferenceSpec s, int seed = 1)
    {
        Spec = s;
        var rng = new Random(seed);
        void Add(string name, long[] shape, double scale, double offset = 0)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            Weights[name] = Enumerable.Range(0, (int)n).Select(_ => (double)(float)(offset + scale * (2 * rng.NextDouble() - 1))).ToArray();
            _shapes[name] = shape;
        }
        void Linear(string name, int rows, int cols) => Add(name, [rows, cols], Math.Sqrt(3.0 / cols));
        void Norm(string name, int dim) => Add(name, [dim], 0.2, 1);
        int hd = s.HeadDim, qw = s.Heads * hd, kw = s.KvHeads * hd;
        Add("model.embed_tokens.weight", [s.Vocab, s.Hidden], 1);
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            Norm(p + "input_layernorm.weight", s.Hidden);
            Norm(p + "post_attention_layernorm.weight", s.Hidden);
            if (s.Family == "phi3")
            {
                Linear(p + "self_attn.qkv_proj.weight", qw + 2 * kw, s.Hidden);
                Linear(p + "mlp.gate_up_proj.weight", 2 * s.Ff, s.Hidden);
            }
            else
            {
                Linear(p + "self_attn.q_proj.weight", qw, s.Hidden);
                Linear(p + "self_attn.k_proj.weight", kw, s.Hidden);
                Linear(p + "self_attn.v_proj.weight", kw, s.Hidden);
                Linear(p + "mlp.gate_proj.weight", s.Ff, s.Hidden);
                Linear(p + "mlp.up_proj.weight", s.Ff, s.Hidden);
            }
            if (s.Family == "qwen3")
            {
                Norm(p + "self_attn.q_norm.weight", hd);
                Norm(p + "self_attn.k_norm.weight", hd);
            }
            Linear(p + "self_attn.o_proj.weight", s.Hidden, qw);
            Linear(p + "mlp.down_proj.weight", s.Hidden, s.Ff);
        }
        Norm("model.norm.weight", s.Hidden);
        if (s.Labels is int labels) Linear("score.weight", labels, s.Hidden);
        else if (!s.Tied) Linear("lm_head.weight", s.Vocab, s.Hidden);
    }

    public ReferenceDecoder Reference => new(Spec, Weights);

    /// <summary>config.json as the family's HF configuration class writes it.</summary>
    public JsonObject HfConfig()
    {
        var s = Spec;
        string prefix = s.Family switch { "qwen3" => "Qwen3", "phi3" => "Phi3", _ => "Mistral" };
        var j = new JsonObject
        {
            ["architectures"] = new JsonArray(prefix + (s.Labels is null ? "ForCausalLM" : "ForSequenceClassification")),
            ["model_type"] = s.Family,
            ["vocab_size"] = s.Vocab, ["hidden_size"] = s.Hidden, ["intermediate_size"] = s.Ff,
            ["num_hidden_layers"] = s.Layers, ["num_attention_heads"] = s.Heads, ["num_key_value_heads"] = s.KvHeads,
            ["max_position_embeddings"] = s.MaxPositions, ["rms_norm_eps"] = s.Eps, ["rope_theta"] = s.Theta,
            ["tie_word_embeddings"] = s.Tied, ["hidden_act"] = "silu", ["torch_dtype"] = "float32",
        };
        if (s.Family != "phi3") j["head_dim"] = s.HeadDim;
        if (s.Labels is int n) j["num_labels"] = n;
        switch (s.Family)
        {
            case "qwen3":
                j["attention_bias"] = false;
                j["use_sliding_window"] = s.Window is not null;
                j["sliding_window"] = s.Window ?? 4096;
                j["max_window_layers"] = s.WindowFromLayer;
                break;
            case "mistral":
                j["sliding_window"] = s.Window;
                break;
            case "phi3":
                j["sliding_window"] = s.Window;
                j["partial_rotary_factor"] = s.PartialRotary;
                if (s.ShortFactor is not null)
                {
                    j["original_max_position_embeddings"] = s.OriginalMaxPositions;
                    j["rope_scaling"] = new JsonObject
                    {
                        ["type"] = "longrope",
                        ["short_factor"] = new JsonArray(s.ShortFactor.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
                        ["long_factor"] = new JsonArray(s.LongFactor!.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
                    };
                }
                break;
        }
        return j;
    }

    public string WriteHf(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), HfConfig().ToJsonString());
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"),
            Weights.Select(kv => TensorToWrite.FromBytes(kv.Key, TensorDType.F32, _shapes[kv.Key], Floats(kv.Value))).ToList());
        return dir;
    }

    /// <summary>A GGUF as llama.cpp's convert_hf_to_gguf.py lays out qwen3 / phi3 (NeoX RoPE, so no Q/K permutation).</summary>
    public string WriteGguf(string path)
    {
        var s = Spec;
        string arch = s.Family;
        var meta = new List<KeyValuePair<string, object>>
        {
            new("general.architecture", arch),
            new($"{arch}.context_length", (uint)s.MaxPositions),
            new($"{arch}.embedding_length", (uint)s.Hidden),
            new($"{arch}.feed_forward_length", (uint)s.Ff),
            new($"{arch}.block_count", (uint)s.Layers),
            new($"{arch}.attention.head_count", (uint)s.Heads),
            new($"{arch}.attention.head_count_kv", (uint)s.KvHeads),
            new($"{arch}.attention.layer_norm_rms_epsilon", (float)s.Eps),
            new($"{arch}.rope.freq_base", (float)s.Theta),
        };
        if (arch == "qwen3") meta.Add(new("qwen3.attention.key_length", (uint)s.HeadDim));
        if (arch == "phi3")
        {
            meta.Add(new("phi3.rope.dimension_count", (uint)s.RotaryDim));
            meta.Add(new("phi3.attention.sliding_window", (uint)(s.Window ?? 0)));
            if (s.ShortFactor is not null)
            {
                double ratio = (double)s.MaxPositions / s.OriginalMaxPositions;
                meta.Add(new("phi3.rope.scaling.original_context_length", (uint)s.OriginalMaxPositions));
                meta.Add(new("phi3.rope.scaling.attn_factor", (float)Math.Sqrt(1 + Math.Log(ratio) / Math.Log(s.OriginalMaxPositions))));
            }
        }
        var tensors = Weights.Select(kv => TensorToWrite.FromBytes(GgufName(kv.Key), TensorDType.F32, _shapes[kv.Key], Floats(kv.Value))).ToList();
        if (s.ShortFactor is not null)
        {
            tensors.Add(TensorToWrite.FromBytes("rope_factors_short.weight", TensorDType.F32, [s.ShortFactor.Length], Floats(s.ShortFactor)));
            tensors.Add(TensorToWrite.FromBytes("rope_factors_long.weight", TensorDType.F32, [s.LongFactor!.Length], Floats(s.LongFactor)));
        }
        GgufWriter.Write(path, meta, tensors);
        return path;
    }

    /// <summary>llama.cpp's tensor names (gguf-py tensor_mapping), written out independently of Ares's loader.</summary>
    static string GgufName(string hf)
    {
        switch (hf)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
        }
        var parts = hf.Split('.', 4); // model, layers, i, rest
        string rest = parts[3] switch
        {
            "input_layernorm.weight" => "attn_norm.weight",
            "post_attention_layernorm.weight" => "ffn_norm.weight",
            "self_attn.q_proj.weight" => "attn_q.weight",
            "self_attn.k_proj.weight" => "attn_k.weight",
            "self_attn.v_proj.weight" => "attn_v.weight",
            "self_attn.qkv_proj.weight" => "attn_qkv.weight",
            "self_attn.o_proj.weight" => "attn_output.weight",
            "self_attn.q_norm.weight" => "attn_q_norm.weight",
            "self_attn.k_norm.weight" => "attn_k_norm.weight",
            "mlp.gate_proj.weight" => "ffn_gate.weight",
            "mlp.up_proj.weight" => "ffn_up.weight",
            "mlp.gate_up_proj.weight" => "ffn_up.weight",
            "mlp.down_proj.weight" => "ffn_down.weight",
            var r => throw new ArgumentException($"no GGUF name for {r}"),
        };
        return $"blk.{parts[2]}.{rest}";
    }

    static byte[] Floats(double[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), (float)values[i]);
        return bytes;
    }
}
