using Ares.Core.Formats;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Benchmarks;

/// <summary>
/// Writes a random-weight Llama GGUF (F32, tied embeddings) that both Ares and llama.cpp load, so
/// `ares bench generate` and `llama-batched-bench` can be run on one file. Weights are
/// normal(0, 0.02), norms 1; the vocabulary is a SentencePiece-style list (unk, BOS, EOS, the 256
/// byte tokens, then made-up pieces) that only has to load, not to mean anything.
/// </summary>
internal static class BenchModelFile
{
    /// <summary>The issue's model: 29.5 M parameters (dim 512, 8 layers, 8 heads, ffn 1376, vocab 8192, tied).</summary>
    public static TransformerConfig Issue30M => new()
    {
        Architecture = Architecture.Llama, VocabSize = 8192, HiddenSize = 512, IntermediateSize = 1376, NumLayers = 8,
        NumHeads = 8, NumKvHeads = 8, HeadDim = 64, MaxPositions = 2048, NormEps = 1e-5, TieWordEmbeddings = true,
    };

    public static void Write(string path, TransformerConfig c, long seed = 0)
    {
        if (c.Architecture != Architecture.Llama || !c.TieWordEmbeddings) throw new ArgumentException("the bench model is a tied-embedding Llama");
        if (c.VocabSize < 260) throw new ArgumentException($"the bench vocabulary needs at least 260 tokens (specials + 256 bytes), got {c.VocabSize}");
        var tokens = new string[c.VocabSize];
        var types = new int[c.VocabSize];
        var scores = new float[c.VocabSize];
        tokens[0] = "<unk>"; types[0] = 2;
        tokens[1] = "<s>"; types[1] = 3;
        tokens[2] = "</s>"; types[2] = 3;
        for (int b = 0; b < 256; b++) { tokens[3 + b] = $"<0x{b:X2}>"; types[3 + b] = 6; }
        for (int i = 259; i < c.VocabSize; i++) { tokens[i] = $"▁w{i}"; types[i] = 1; scores[i] = -i; }
        var metadata = new KeyValuePair<string, object>[]
        {
            new("general.architecture", "llama"),
            new("general.name", "ares-bench"),
            new("llama.context_length", (uint)c.MaxPositions),
            new("llama.embedding_length", (uint)c.HiddenSize),
            new("llama.block_count", (uint)c.NumLayers),
            new("llama.feed_forward_length", (uint)c.IntermediateSize),
            new("llama.attention.head_count", (uint)c.NumHeads),
            new("llama.attention.head_count_kv", (uint)c.NumKvHeads),
            new("llama.rope.dimension_count", (uint)c.HeadDim),
            new("llama.rope.freq_base", (float)c.RopeTheta),
            new("llama.attention.layer_norm_rms_epsilon", (float)c.NormEps),
            new("tokenizer.ggml.model", "llama"),
            new("tokenizer.ggml.tokens", tokens),
            new("tokenizer.ggml.scores", scores),
            new("tokenizer.ggml.token_type", types),
            new("tokenizer.ggml.bos_token_id", 1u),
            new("tokenizer.ggml.eos_token_id", 2u),
            new("tokenizer.ggml.unknown_token_id", 0u),
        };
        var generator = new Generator((ulong)seed);
        TensorToWrite Normal(string name, params long[] shape) => new(name, TensorDType.F32, shape, s =>
        {
            using var t = randn(shape, generator: generator).TimesInPlace(0.02);   // normal(0, 0.02)
            s.Write(t.bytes);
        });
        TensorToWrite Ones(string name, long n) => new(name, TensorDType.F32, [n], s =>
        {
            using var t = ones(n);
            s.Write(t.bytes);
        });
        int d = c.HiddenSize, q = c.NumHeads * c.HeadDim, kv = c.NumKvHeads * c.HeadDim, ff = c.IntermediateSize;
        var tensors = new List<TensorToWrite> { Normal("token_embd.weight", c.VocabSize, d), Ones("output_norm.weight", d) };
        for (int i = 0; i < c.NumLayers; i++)
        {
            tensors.Add(Ones($"blk.{i}.attn_norm.weight", d));
            tensors.Add(Normal($"blk.{i}.attn_q.weight", q, d));
            tensors.Add(Normal($"blk.{i}.attn_k.weight", kv, d));
            tensors.Add(Normal($"blk.{i}.attn_v.weight", kv, d));
            tensors.Add(Normal($"blk.{i}.attn_output.weight", d, q));
            tensors.Add(Ones($"blk.{i}.ffn_norm.weight", d));
            tensors.Add(Normal($"blk.{i}.ffn_gate.weight", ff, d));
            tensors.Add(Normal($"blk.{i}.ffn_up.weight", ff, d));
            tensors.Add(Normal($"blk.{i}.ffn_down.weight", d, ff));
        }
        GgufWriter.Write(path, metadata, tensors);
    }
}
