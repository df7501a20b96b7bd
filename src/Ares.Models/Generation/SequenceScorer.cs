using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Generation;

/// <summary>A batch of token sequences right-padded to one length, with the mask of real tokens.</summary>
internal sealed class PaddedBatch : IDisposable
{
    public Tensor Ids { get; }        // (B, T) int64
    public Tensor Valid { get; }      // (B, T) bool
    public Tensor Positions { get; }  // (B, T) int64
    public int[] Lengths { get; }

    public PaddedBatch(IReadOnlyList<IReadOnlyList<int>> sequences, int padId = 0)
    {
        if (sequences.Count == 0 || sequences.Any(s => s.Count == 0)) throw new ArgumentException("every sequence needs at least one token");
        Lengths = sequences.Select(s => s.Count).ToArray();
        int b = sequences.Count, t = Lengths.Max();
        var ids = new long[b * t];
        var valid = new bool[b * t];
        for (int r = 0; r < b; r++)
            for (int c = 0; c < t; c++)
            {
                bool real = c < Lengths[r];
                ids[r * t + c] = real ? sequences[r][c] : padId;
                valid[r * t + c] = real;
            }
        using var scope = NewDisposeScope(); // intermediates die here; this batch owns the three below
        Ids = tensor(ids).reshape(b, t).DetachFromDisposeScope();
        Valid = tensor(valid).reshape(b, t).DetachFromDisposeScope();
        Positions = ScalarOps.Arange(t).unsqueeze(0).expand(b, t).contiguous().DetachFromDisposeScope();
    }

    /// <summary>Null when no row is padded, so attention can use the fast causal path.</summary>
    public Tensor? KeyValidOrNull => Lengths.All(l => l == Lengths[0]) ? null : Valid;

    public void Dispose() { Ids.Dispose(); Valid.Dispose(); Positions.Dispose(); }
}

/// <summary>
/// Log-probabilities of given continuations and sequence scores (reward models). Works in or out of
/// no_grad: callers that train through it (DPO, RL) keep the autograd graph.
/// </summary>
internal static class SequenceScorer
{
    /// <summary>
    /// Per-token log p(continuation_t | prompt, continuation_&lt;t) for each (prompt, continuation)
    /// pair, as a (B, Tc) tensor zero-padded on the right, and the continuation mask (B, Tc).
    /// </summary>
    public static (Tensor LogProbs, Tensor Mask) ContinuationLogProbs(CausalLM model,
        IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> continuations)
    {
        if (prompts.Count != continuations.Count) throw new ArgumentException("prompts and continuations differ in count");
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("every prompt needs at least one token (e.g. BOS)");
        int b = prompts.Count, tc = Math.Max(1, continuations.Max(c => c.Length));
        using var batch = new PaddedBatch(prompts.Zip(continuations, (p, c) => (IReadOnlyList<int>)p.Concat(c).ToArray()).ToList());
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(batch.Ids, batch.Positions, batch.KeyValidOrNull);       // (B, T, d)
        // Token at column j is predicted by column j − 1: take those hidden states first, so the
        // (…, V) logits are computed only where they are needed.
        var index = new long[b * tc];
        var targets = new long[b * tc];
        var mask = new bool[b * tc];
        for (int r = 0; r < b; r++)
            for (int j = 0; j < tc; j++)
            {
                bool real = j < continuations[r].Length;
                index[r * tc + j] = real ? prompts[r].Length + j - 1 : 0;
                targets[r * tc + j] = real ? continuations[r][j] : 0;
                mask[r * tc + j] = real;
            }
        var idx = tensor(index).reshape(b, tc, 1).expand(b, tc, hidden.shape[2]);          // (B, Tc, d)
        var logp = model.LmLogits(hidden.gather(1, idx)).to_type(ScalarType.Float32).log_softmax(-1); // (B, Tc, V)
        var picked = logp.gather(2, tensor(targets).reshape(b, tc, 1)).squeeze(2);          // (B, Tc)
        var m = tensor(mask).reshape(b, tc);
        return (picked.MaskedFill(m.logical_not(), 0.0).MoveToOuterDisposeScope(), m.MoveToOuterDisposeScope());
    }

    /// <summary>Sum of continuation log-probs per pair (B).</summary>
    public static Tensor SumLogProbs(CausalLM model, IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> continuations)
    {
        var (lp, mask) = ContinuationLogProbs(model, prompts, continuations);
        using (lp) using (mask) return lp.sum(1);
    }

    /// <summary>
    /// Reward-model scores (B, num_labels): the `score` head read at each sequence's last real
    /// token, as HF's *ForSequenceClassification does.
    /// </summary>
    public static Tensor Scores(CausalLM model, IReadOnlyList<int[]> sequences)
    {
        using var batch = new PaddedBatch(sequences.Select(s => (IReadOnlyList<int>)s).ToList());
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(batch.Ids, batch.Positions, batch.KeyValidOrNull);       // (B, T, d)
        var last = tensor(batch.Lengths.Select(l => (long)l - 1).ToArray());              // (B)
        var h = hidden[ScalarOps.Arange(hidden.shape[0]), last];                                     // (B, d)
        return model.ScoreLogits(h).to_type(ScalarType.Float32).MoveToOuterDisposeScope(); // (B, labels)
    }
}
