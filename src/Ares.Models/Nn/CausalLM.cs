using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// A decoder-only transformer with an LM head and/or a sequence-classification head (`score`).
/// Subclasses name their fields after the checkpoint keys of their HF family, so
/// `named_parameters()` yields checkpoint keys.
/// </summary>
internal abstract class CausalLM : nn.Module
{
    public TransformerConfig Config { get; }

    protected CausalLM(string name, TransformerConfig config) : base(name) => Config = config;

    /// <summary>
    /// Final-normed hidden states (B, T, d) for <paramref name="inputIds"/> (B, T) at
    /// <paramref name="positions"/> (B, T). <paramref name="keyValid"/> (B, S), S = cached + T, marks
    /// real (non-pad) keys; null means no padding. With a <paramref name="cache"/>, keys and values
    /// are appended to it.
    /// </summary>
    public abstract Tensor Hidden(Tensor inputIds, Tensor positions, Tensor? keyValid = null, KvCache? cache = null);

    /// <summary>Next-token logits (B, T, V) from hidden states.</summary>
    public abstract Tensor LmLogits(Tensor hidden);

    /// <summary>Sequence-classification logits (B, T, num_labels) from hidden states (`score` head).</summary>
    public abstract Tensor ScoreLogits(Tensor hidden);

    public bool HasLmHead => Config.NumLabels is null;

    public KvCache NewCache(int batch, int capacity) =>
        new(Config.NumLayers, batch, Config.NumKvHeads, Config.HeadDim, capacity, ComputeDType);

    public ScalarType ComputeDType => parameters().First().dtype;

    /// <summary>Every <see cref="Linear"/> with its module path (e.g. model.layers.0.self_attn.q_proj).</summary>
    public IEnumerable<(string Name, Linear Layer)> Linears() =>
        named_modules().Where(m => m.module is Linear).Select(m => (m.name, (Linear)m.module));

    /// <summary>
    /// Mask for attention, or null when none is needed: no padding, no key outside the
    /// <paramref name="window"/>, and either nothing cached (plain causal, SDPA's is_causal) or a single
    /// new token (it may see every cached key). Unpadded decode steps within the window build no mask.
    /// </summary>
    protected static Tensor? MaskFor(Tensor? keyValid, Tensor inputIds, KvCache? cache, int? window = null)
    {
        long t = inputIds.shape[1], b = inputIds.shape[0];
        long s = (cache?.Length ?? 0) + t;
        bool windowBites = window is int w0 && s > w0;
        if (keyValid is null && !windowBites && (cache is null || cache.Length == 0 || t == 1)) return null;
        using var valid = keyValid is null ? ones([b, s], ScalarType.Bool) : keyValid.alias();
        if (valid.shape[1] != s) throw new ArgumentException($"keyValid has {valid.shape[1]} positions, expected cached + new = {s}");
        return AttentionMath.Mask(valid, (int)t, window is int w && s > w ? w : null);
    }

    protected static Tensor Activation(string name, Tensor x) => name switch
    {
        "silu" => nn.functional.silu(x),
        "gelu" => nn.functional.gelu(x),
        _ => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh), // gelu_new, gelu_pytorch_tanh
    };
}
