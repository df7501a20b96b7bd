using Ares.Models.Nn;
using Ares.Models.Generation;
using Ares.Models.Loading;
using static TorchSharp.torch;

namespace Ares.RedTeam.Attack;

/// <summary>
/// Sentence embeddings for prompt diversity from any model the runtime loads (causal LM or sequence
/// classifier): the final-normed hidden states (<c>CausalLM.Hidden</c>) mean-pooled over the real
/// tokens (padding masked out), then L2-normalised, so a dot product is a cosine similarity.
/// </summary>
/// <remarks>
/// The paper embeds prompts with a dedicated sentence encoder, which is now the default
/// (<see cref="MiniLmEmbedder"/>); this LM-state embedder stays as an option (eval.embedder "judge" or a
/// model path) for comparisons with earlier runs and for users who want their own model's view.
/// Absolute values are comparable only between runs that use the same embedding model. Prompts are encoded as raw text with the tokenizer's special tokens, not
/// in the chat layout, so the template's fixed tokens do not dominate the mean. An empty prompt is
/// embedded as its special tokens alone (BOS, else the pad/EOS token).
/// </remarks>
internal sealed class PromptEmbedder : IPromptEmbedder
{
    readonly LoadedModel _model;
    readonly int _batchSize;

    public ModelIdentity Identity { get; }
    public int Dimension => _model.Config.HiddenSize;

    /// <summary>Does not take ownership of <paramref name="model"/>.</summary>
    public PromptEmbedder(LoadedModel model, int batchSize = 32)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"embedding batch size must be ≥ 1, got {batchSize}");
        _model = model;
        _batchSize = batchSize;
        Identity = ModelIdentity.ForLocal(model.SourcePath);
    }

    /// <summary>The token ids a text is embedded from, truncated to the model's context.</summary>
    public int[] Ids(string text)
    {
        var ids = _model.Tokenizer.Encode(text, addSpecialTokens: true);
        if (ids.Length == 0)
        {
            int? fallback = _model.Tokenizer.BosId ?? _model.Tokenizer.PadId ?? _model.Tokenizer.EosId;
            ids = fallback is int f ? [f] : throw new ArgumentException($"{_model.SourcePath}: an empty prompt encodes to no tokens and the tokenizer has no BOS, pad or EOS token to stand for it");
        }
        return ids.Length <= _model.Config.MaxSequenceLength ? ids : ids[.._model.Config.MaxSequenceLength];
    }

    /// <summary>One unit-length vector per text, in order.</summary>
    public IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts)
    {
        var result = new List<float[]>(texts.Count);
        using var noGrad = no_grad();
        bool wasTraining = _model.Model.training;
        _model.Model.eval();
        try
        {
            foreach (var chunk in texts.Chunk(_batchSize))
            {
                using var batch = new PaddedBatch(chunk.Select(t => (IReadOnlyList<int>)Ids(t)).ToList(), _model.Tokenizer.PadId ?? 0);
                using var scope = NewDisposeScope();
                var hidden = _model.Model.Hidden(batch.Ids, batch.Positions, batch.KeyValidOrNull).to_type(ScalarType.Float32); // (B, T, d)
                var mask = batch.Valid.unsqueeze(2).to_type(ScalarType.Float32);                  // (B, T, 1)
                var mean = (hidden * mask).sum(1) / mask.sum(1);                                   // (B, d)
                var unit = mean / mean.norm(1, keepdim: true).ClampMin(1e-12);                     // (B, d)
                var host = unit.contiguous().data<float>().ToArray();
                int d = (int)unit.shape[1];
                for (int r = 0; r < chunk.Length; r++) result.Add(host.AsSpan(r * d, d).ToArray());
            }
        }
        finally { _model.Model.train(wasTraining); }
        return result;
    }
}
