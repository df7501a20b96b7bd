using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>Loss functions as small pure tensor functions (tested against hand-computed values).</summary>
internal static class Losses
{
    /// <summary>
    /// Mean next-token cross-entropy over the masked tokens: −(1/N) Σ_{mask} log softmax(logits)[target],
    /// N = mask.sum(). <paramref name="logits"/> (B, T, V) at position t score <paramref name="targets"/>
    /// (B, T) at t, i.e. targets are the inputs shifted left by one. Computed in fp32. No masked token gives 0.
    /// </summary>
    public static Tensor NextTokenCrossEntropy(Tensor logits, Tensor targets, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var count = mask.to_type(ScalarType.Float32).sum().clamp_min(1);                  // ()
        return (MaskedNllSum(logits, targets, mask) / count).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Σ_{mask} −log p(target) / <paramref name="tokenCount"/>. With tokenCount = the number of masked
    /// tokens in the whole accumulated batch, the losses of its micro-batches sum to the batch's mean,
    /// so gradient accumulation equals one large batch whatever each micro-batch's length (a plain
    /// mean-per-micro-batch × 1/accum does not when micro-batches hold different token counts).
    /// </summary>
    public static Tensor NextTokenCrossEntropy(Tensor logits, Tensor targets, Tensor mask, double tokenCount)
    {
        if (!(tokenCount > 0)) throw new ArgumentException($"token count must be > 0, got {tokenCount}");
        using var scope = NewDisposeScope();
        return (MaskedNllSum(logits, targets, mask) / tokenCount).MoveToOuterDisposeScope();
    }

    /// <summary>Σ over masked positions of −log softmax(logits)[target]; logits (…, V), targets and mask (…).</summary>
    static Tensor MaskedNllSum(Tensor logits, Tensor targets, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[^1];
        var flat = logits.reshape(-1, v).to_type(ScalarType.Float32);                      // (N, V)
        var nll = nn.functional.cross_entropy(flat, targets.reshape(-1), reduction: nn.Reduction.None); // (N)
        var keep = mask.reshape(-1).to_type(ScalarType.Bool);                              // (N)
        return nll.masked_fill(keep.logical_not(), 0).sum().MoveToOuterDisposeScope();     // ()
    }
}
