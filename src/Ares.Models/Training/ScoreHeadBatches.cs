using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>Score-head forward passes shared by the reward and classifier trainers.</summary>
internal static class ScoreHeadBatches
{
    /// <summary>
    /// Score-head logits (B, num_labels) read at each sequence's last token, as HF's
    /// *ForSequenceClassification and <see cref="Generation.SequenceScorer.Scores"/> read them. Rows
    /// are right-padded and need no attention mask: under causal attention no real token sees a pad.
    /// Keeps the autograd graph.
    /// </summary>
    public static Tensor LastTokenLogits(CausalLM model, IReadOnlyList<int[]> sequences)
    {
        if (sequences.Count == 0 || sequences.Any(s => s.Length == 0)) throw new ArgumentException("every sequence needs at least one token");
        int b = sequences.Count, t = sequences.Max(s => s.Length);
        var ids = new long[b * t];
        for (int r = 0; r < b; r++)
            for (int c = 0; c < sequences[r].Length; c++) ids[r * t + c] = sequences[r][c];
        using var scope = NewDisposeScope();
        var positions = ScalarOps.Arange(t).unsqueeze(0).expand(b, t);                           // (B, T)
        var hidden = model.Hidden(tensor(ids).reshape(b, t), positions);                         // (B, T, d)
        var last = tensor(sequences.Select(s => (long)s.Length - 1).ToArray());                  // (B)
        var h = hidden[ScalarOps.Arange(b), last];                                               // (B, d)
        return model.ScoreLogits(h).to_type(ScalarType.Float32).MoveToOuterDisposeScope();      // (B, labels)
    }
}
