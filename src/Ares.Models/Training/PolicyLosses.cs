using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// The math of policy optimisation against a reward (RLOO, GRPO) or preferences (DPO) as small pure
/// tensor functions, tested against hand-computed values. Inputs are fp32; nothing here owns a model.
/// </summary>
internal static class PolicyLosses
{
    /// <summary>
    /// REINFORCE leave-one-out advantages (Ahmadian et al. 2024, eq. 4): A_i = r_i − 1/(k−1) Σ_{j≠i} r_j
    /// within each group of k completions of one prompt. <paramref name="rewards"/> (G, k) → (G, k).
    /// The baseline leaves r_i out, so it does not depend on the sample it corrects and the gradient
    /// stays unbiased; each group's advantages sum to 0.
    /// </summary>
    public static Tensor RlooAdvantages(Tensor rewards)
    {
        long k = rewards.shape[^1];
        if (k < 2) throw new ArgumentException($"leave-one-out needs at least 2 completions per prompt, got {k}");
        using var scope = NewDisposeScope();
        var others = (rewards.sum(-1, keepdim: true) - rewards).DividedBy(k - 1);        // (G, k)
        return (rewards - others).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// GRPO's group-relative advantages (Shao et al. 2024, §4.1.2): Â_i = (r_i − mean(r)) / (std(r) + ε)
    /// per group, std with Bessel's correction as TRL computes it. <paramref name="rewards"/> (G, k) → (G, k).
    /// A group whose rewards are all equal gets advantages 0, not 0/0.
    /// </summary>
    public static Tensor GrpoAdvantages(Tensor rewards, double eps)
    {
        long k = rewards.shape[^1];
        if (k < 2) throw new ArgumentException($"a group standard deviation needs at least 2 completions per prompt, got {k}");
        if (!(eps > 0)) throw new ArgumentException($"GRPO's eps must be > 0, got {eps}");
        using var scope = NewDisposeScope();
        var mean = rewards.mean([-1], keepdim: true);                                      // (G, 1)
        var std = rewards.std(-1, unbiased: true, keepdim: true);                          // (G, 1)
        return ((rewards - mean) / std.Plus(eps)).MoveToOuterDisposeScope();              // (G, k)
    }

    /// <summary>
    /// Schulman's k3 estimator of KL(π ‖ π_ref) per sampled token (GRPO, Shao et al. 2024, eq. 4):
    /// exp(ref − logp) − (ref − logp) − 1. Unbiased for tokens drawn from π and never negative, unlike
    /// the plain log-ratio logp − ref. Element-wise on log-probs of the same shape.
    /// </summary>
    public static Tensor K3Kl(Tensor logProbs, Tensor refLogProbs)
    {
        using var scope = NewDisposeScope();
        var d = refLogProbs - logProbs;
        return (d.exp() - d).Minus(1L).MoveToOuterDisposeScope();
    }

    /// <summary>Mean of <paramref name="values"/> over the positions <paramref name="mask"/> marks, along the last dimension; a row with none gives 0.</summary>
    public static Tensor MaskedMean(Tensor values, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var m = mask.to_type(values.dtype);
        return ((values * m).sum(-1) / m.sum(-1).ClampMin(1L)).MoveToOuterDisposeScope();
    }

    /// <summary>Sum of <paramref name="values"/> over the positions <paramref name="mask"/> marks, along the last dimension.</summary>
    public static Tensor MaskedSum(Tensor values, Tensor mask)
    {
        using var scope = NewDisposeScope();
        return (values * mask.to_type(values.dtype)).sum(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Policy-gradient loss of N completions (GRPO's objective, Shao et al. 2024 eq. 3, at a single
    /// on-policy step): per token ℓ_t = −Â_i·log π(y_t) + β·k3_t, per completion Σ_t ℓ_t, or its mean
    /// over the completion's tokens when <paramref name="lengthNormalised"/>, then summed and divided
    /// by <paramref name="completionCount"/>. With completionCount = the completions of the whole
    /// accumulated batch, micro-batch losses add up to the batch's mean.
    /// <para>GRPO's clipped ratio π/π_old is 1 with gradient ∇log π when the samples come from the
    /// current policy and one gradient step is taken per batch, so the plain log-prob carries the
    /// same gradient. Advantages are constants (detached). β = 0 gives REINFORCE, −Â_i·log π(y_i),
    /// for the KL-in-reward variant whose penalty is already inside Â.</para>
    /// </summary>
    /// <param name="logProbs">(N, T) policy log-probs of the sampled tokens, with grad.</param>
    /// <param name="refLogProbs">(N, T) reference log-probs, no grad.</param>
    /// <param name="mask">(N, T) real completion tokens.</param>
    /// <param name="advantages">(N) one per completion.</param>
    public static Tensor PolicyGradientLoss(Tensor logProbs, Tensor refLogProbs, Tensor mask, Tensor advantages,
        double beta, bool lengthNormalised, double completionCount)
    {
        if (!(completionCount > 0)) throw new ArgumentException($"completion count must be > 0, got {completionCount}");
        using var scope = NewDisposeScope();
        var perToken = -advantages.detach().unsqueeze(1) * logProbs;                         // (N, T)
        if (beta != 0) perToken = perToken.Plus(K3Kl(logProbs, refLogProbs.detach()).Times(beta));
        var perCompletion = lengthNormalised ? MaskedMean(perToken, mask) : MaskedSum(perToken, mask); // (N)
        return perCompletion.sum().DividedBy(completionCount).MoveToOuterDisposeScope();   // ()
    }

    /// <summary>
    /// DPO's loss per pair (Rafailov et al. 2023, eq. 7) with conservative label smoothing ε (cDPO,
    /// Mitchell 2023): h = β[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))],
    /// loss = −(1−ε)·log σ(h) − ε·log σ(−h). ε is the assumed rate of flipped labels; ε = 0 is DPO.
    /// All inputs (B) are sequence log-probs (sums over completion tokens); returns (B).
    /// </summary>
    public static Tensor DpoLoss(Tensor policyChosen, Tensor policyRejected, Tensor refChosen, Tensor refRejected,
        double beta, double labelSmoothing = 0)
    {
        if (!(beta > 0) || double.IsInfinity(beta)) throw new ArgumentException($"DPO's beta must be > 0 and finite, got {beta}");
        if (labelSmoothing is < 0 or >= 0.5 || double.IsNaN(labelSmoothing)) throw new ArgumentException($"DPO's label smoothing must be in [0, 0.5), got {labelSmoothing}");
        using var scope = NewDisposeScope();
        var h = ((policyChosen - refChosen) - (policyRejected - refRejected)).Times(beta);    // (B)
        var loss = nn.functional.logsigmoid(h).Times(-(1 - labelSmoothing));
        if (labelSmoothing > 0) loss = loss - nn.functional.logsigmoid(-h).Times(labelSmoothing);
        return loss.MoveToOuterDisposeScope();                                             // (B)
    }
}
