using Ares.Models.Generation;
using Ares.Models.Loading;
using static TorchSharp.torch;

namespace Ares.RedTeam.Rewards;

/// <summary>
/// Reads a `*ForSequenceClassification` model's score head over (prompt, response) exchanges, in
/// batches: what reward models and classifier judges share. Owns the model.
/// </summary>
internal sealed class ExchangeScorer : IDisposable
{
    public LoadedModel Model { get; }
    public int MaxBatchSize { get; }
    /// <summary>Outputs of the score head (num_labels).</summary>
    public int NumLabels { get; }
    /// <summary>The longest sequence the model reads (its max positions).</summary>
    public int MaxLength => Model.Config.MaxSequenceLength;

    /// <summary>Takes ownership of <paramref name="model"/>; throws if it has no score head.</summary>
    public ExchangeScorer(LoadedModel model, int maxBatchSize)
    {
        if (maxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(maxBatchSize), $"max batch size must be ≥ 1, got {maxBatchSize}");
        NumLabels = model.Config.NumLabels
            ?? throw new ArgumentException($"{model.SourcePath}: no score head: this is a causal LM, not a *ForSequenceClassification model (config.json 'architectures' and score.weight)");
        Model = model;
        MaxBatchSize = maxBatchSize;
        model.Model.eval();
    }

    /// <summary>The ids the head reads: the exchange in the model's chat layout (<see cref="LoadedModel.EncodeExchange"/>).</summary>
    public int[] Encode(Exchange e) => Model.EncodeExchange(e.Prompt, e.Response);

    /// <summary>
    /// Score-head logits per sequence: result[i] has <see cref="NumLabels"/> entries. Every sequence
    /// must be non-empty and at most <see cref="MaxLength"/> tokens (callers decide how to report others).
    /// </summary>
    public float[][] Logits(IReadOnlyList<int[]> sequences)
    {
        var result = new float[sequences.Count][];
        using var noGrad = no_grad();
        int offset = 0;
        foreach (var chunk in sequences.Chunk(MaxBatchSize))
        {
            using var scope = NewDisposeScope();
            var scores = SequenceScorer.Scores(Model.Model, chunk);                   // (B, labels)
            var host = scores.data<float>().ToArray();
            for (int r = 0; r < chunk.Length; r++) result[offset + r] = host.AsSpan(r * NumLabels, NumLabels).ToArray();
            offset += chunk.Length;
        }
        return result;
    }

    public void Dispose() => Model.Dispose();
}
