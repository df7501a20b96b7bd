using Ares.Models.Generation;
using Ares.Models.Lora;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// The frozen π_ref that KL penalties and DPO's implicit reward measure against: a separately
/// supplied model, or else the policy itself with its LoRA adapters bypassed, so one set of base
/// weights serves both. Responsible for reference log-probs (no grad, eval mode, adapters re-enabled
/// afterwards); does not own either model.
/// </summary>
internal sealed class ReferencePolicy
{
    readonly CausalLM _policy;
    readonly CausalLM? _separate;

    ReferencePolicy(CausalLM policy, CausalLM? separate) => (_policy, _separate) = (policy, separate);

    /// <summary>
    /// <paramref name="reference"/> when given (it wins over adapters), else the policy with its
    /// adapters disabled; a policy without adapters then has no reference and is refused.
    /// </summary>
    public static ReferencePolicy For(CausalLM policy, CausalLM? reference)
    {
        if (reference is null)
        {
            if (LoraAdapters.ConfigOf(policy) is null)
                throw new ArgumentException("a reference policy is needed: put LoRA adapters on the policy (the reference is then the base with adapters disabled) or pass a separate frozen reference model");
            return new ReferencePolicy(policy, null);
        }
        if (ReferenceEquals(reference, policy)) throw new ArgumentException("the reference model must not be the policy itself (it would move with it); pass a frozen copy or use LoRA adapters");
        if (!reference.HasLmHead) throw new ArgumentException("the reference model needs an LM head, not a sequence classifier");
        if (reference.Config.VocabSize != policy.Config.VocabSize)
            throw new ArgumentException($"the reference model's vocabulary ({reference.Config.VocabSize}) differs from the policy's ({policy.Config.VocabSize})");
        return new ReferencePolicy(policy, reference);
    }

    /// <summary>True when the reference is the policy's base with adapters disabled.</summary>
    public bool IsDisabledAdapters => _separate is null;

    /// <summary>Per-token reference log-probs (B, Tc) and mask, as <see cref="SequenceScorer.ContinuationLogProbs"/>, without grad.</summary>
    public (Tensor LogProbs, Tensor Mask) ContinuationLogProbs(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> continuations)
    {
        using var noGrad = no_grad();
        var model = _separate ?? _policy;
        bool wasTraining = model.training;
        model.eval();
        if (_separate is null) LoraAdapters.SetEnabled(_policy, false);
        try { return SequenceScorer.ContinuationLogProbs(model, prompts, continuations); }
        finally
        {
            if (_separate is null) LoraAdapters.SetEnabled(_policy, true);
            model.train(wasTraining);
        }
    }

    /// <summary>Reference log-prob of each whole continuation (B), without grad.</summary>
    public Tensor SumLogProbs(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> continuations)
    {
        var (lp, mask) = ContinuationLogProbs(prompts, continuations);
        using (lp) using (mask) return lp.sum(1);
    }
}
