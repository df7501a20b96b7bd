using Ares.Models.Loading;

namespace Ares.RedTeam.Rewards;

/// <summary>
/// A reward model run in-process: an HF `*ForSequenceClassification` model with one output
/// (num_labels = 1), read at the last token of the exchange in the model's chat layout, as TRL's
/// RewardTrainer trains it. Owns the model.
/// </summary>
internal sealed class LocalRewardModel : IRewardModel
{
    readonly ExchangeScorer _scorer;

    public ModelIdentity Identity { get; }

    /// <summary>Takes ownership of <paramref name="model"/>; throws unless it has a one-output score head.</summary>
    public LocalRewardModel(LoadedModel model, int maxBatchSize = 16)
    {
        var scorer = new ExchangeScorer(model, maxBatchSize);
        if (scorer.NumLabels != 1)
            throw new ArgumentException($"{model.SourcePath}: a reward model needs num_labels = 1 (one scalar score), this one has num_labels = {scorer.NumLabels}");
        _scorer = scorer;
        Identity = ModelIdentity.ForLocal(model.SourcePath);
    }

    public static LocalRewardModel Load(string path, LoadOptions? options = null, int maxBatchSize = 16)
    {
        var model = ModelLoader.Load(path, options);
        try { return new LocalRewardModel(model, maxBatchSize); }
        catch { model.Dispose(); throw; }
    }

    /// <summary>One score per exchange; throws if an exchange is longer than the model reads (a reward is never silently truncated).</summary>
    public IReadOnlyList<double> Score(IReadOnlyList<Exchange> exchanges)
    {
        var ids = exchanges.Select(_scorer.Encode).ToList();
        for (int i = 0; i < ids.Count; i++)
            if (ids[i].Length > _scorer.MaxLength)
                throw new ArgumentException($"{_scorer.Model.SourcePath}: exchange {i} is {ids[i].Length} tokens, more than the model's {_scorer.MaxLength} positions");
        return _scorer.Logits(ids).Select(l => (double)l[0]).ToList();
    }

    public void Dispose() => _scorer.Dispose();
}
