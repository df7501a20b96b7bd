using Ares.Models.Nn;
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
        var count = mask.to_type(ScalarType.Float32).sum().ClampMin(1L);                  // ()
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
        return MaskedNllSum(logits, targets, mask).DividedBy(tokenCount).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Bradley–Terry pairwise loss of a reward model (Ouyang et al. 2022, eq. 1; TRL's RewardTrainer):
    /// mean over pairs of −log σ(r_chosen − r_rejected − margin), i.e. softplus(−(Δ − m)). The optional
    /// per-pair <paramref name="margin"/> (Llama 2's margin loss, Touvron et al. 2023 eq. 2) asks the
    /// chosen reward to lead by at least that much. chosen, rejected, margin: (B). Computed in fp32.
    /// </summary>
    public static Tensor BradleyTerry(Tensor chosen, Tensor rejected, Tensor? margin = null) =>
        BradleyTerry(chosen, rejected, chosen.shape[0], margin);

    /// <summary>
    /// Σ_pairs −log σ(r_chosen − r_rejected − margin) / <paramref name="pairCount"/>: with pairCount = the
    /// pairs of the whole accumulated batch, micro-batch losses sum to the batch mean.
    /// </summary>
    public static Tensor BradleyTerry(Tensor chosen, Tensor rejected, double pairCount, Tensor? margin = null)
    {
        if (!(pairCount > 0)) throw new ArgumentException($"pair count must be > 0, got {pairCount}");
        if (!chosen.shape.SequenceEqual(rejected.shape) || chosen.dim() != 1)
            throw new ArgumentException($"chosen and rejected rewards must both be (B), got {Shape(chosen)} and {Shape(rejected)}");
        using var scope = NewDisposeScope();
        var delta = chosen.to_type(ScalarType.Float32) - rejected.to_type(ScalarType.Float32); // (B)
        if (margin is not null) delta = delta - margin.to_type(ScalarType.Float32);
        return (-nn.functional.logsigmoid(delta).sum()).DividedBy(pairCount).MoveToOuterDisposeScope(); // ()
    }

    /// <summary>
    /// Reward centring (Eisenstein et al. 2023; TRL's center_rewards_coefficient): mean of (r_chosen + r_rejected)²,
    /// which pins the reward scale's free offset at 0 so rewards stay comparable across runs. (B), (B) → ().
    /// </summary>
    public static Tensor RewardCentering(Tensor chosen, Tensor rejected, double pairCount)
    {
        if (!(pairCount > 0)) throw new ArgumentException($"pair count must be > 0, got {pairCount}");
        using var scope = NewDisposeScope();
        var sum = chosen.to_type(ScalarType.Float32).Plus(rejected.to_type(ScalarType.Float32)); // (B)
        return sum.Squared().sum().DividedBy(pairCount).MoveToOuterDisposeScope();             // ()
    }

    /// <summary>
    /// Cross-entropy of a sequence classifier: Σ_b −log softmax(logits_b)[label_b] / <paramref name="count"/>
    /// (count = rows in the accumulated batch, so micro-batches sum to its mean). logits (B, C), labels (B) int64.
    /// </summary>
    public static Tensor ClassificationCrossEntropy(Tensor logits, Tensor labels, double count)
    {
        if (!(count > 0)) throw new ArgumentException($"count must be > 0, got {count}");
        if (logits.dim() != 2 || labels.dim() != 1 || logits.shape[0] != labels.shape[0])
            throw new ArgumentException($"expected logits (B, C) and labels (B), got {Shape(logits)} and {Shape(labels)}");
        using var scope = NewDisposeScope();
        var nll = nn.functional.cross_entropy(logits.to_type(ScalarType.Float32), labels, reduction: nn.Reduction.Sum); // ()
        return nll.DividedBy(count).MoveToOuterDisposeScope();
    }

    /// <summary>Mean classification cross-entropy over the rows of <paramref name="logits"/> (B, C).</summary>
    public static Tensor ClassificationCrossEntropy(Tensor logits, Tensor labels) =>
        ClassificationCrossEntropy(logits, labels, logits.shape[0]);

    static string Shape(Tensor t) => $"({string.Join(", ", t.shape)})";

    /// <summary>Σ over masked positions of −log softmax(logits)[target]; logits (…, V), targets and mask (…).</summary>
    static Tensor MaskedNllSum(Tensor logits, Tensor targets, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[^1];
        var flat = logits.reshape(-1, v).to_type(ScalarType.Float32);                      // (N, V)
        var nll = nn.functional.cross_entropy(flat, targets.reshape(-1), reduction: nn.Reduction.None); // (N)
        var keep = mask.reshape(-1).to_type(ScalarType.Bool);                              // (N)
        return nll.MaskedFill(keep.logical_not(), 0.0).sum().MoveToOuterDisposeScope();     // ()
    }
}
