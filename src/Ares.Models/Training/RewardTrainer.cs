using System.Diagnostics;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// Trains a reward model (a <see cref="CausalLM"/> with a one-label `score` head) on preference pairs
/// with the Bradley–Terry loss. Responsible for batching, loss, the optimizer and its schedule;
/// does not own the model, load data or persist checkpoints. Trainable parameters must be fp32.
/// </summary>
internal sealed class RewardTrainer : IDisposable
{
    readonly CausalLM _model;
    readonly RewardConfig _config;
    readonly TrainingLoop _loop;
    readonly int _maxLength;

    public RewardTrainer(CausalLM model, RewardConfig config)
    {
        config.Validate();
        if (model.Config.NumLabels != 1)
            throw new ArgumentException($"a reward model needs a score head with num_labels = 1, this model has {(model.Config.NumLabels is int n ? $"{n}" : "an LM head")}");
        _model = model;
        _config = config;
        _maxLength = Math.Min(config.MaxLength, model.Config.MaxSequenceLength);
        _loop = new TrainingLoop(model, config);
    }

    /// <summary>
    /// Runs <see cref="RewardConfig.MaxSteps"/> optimizer steps over <paramref name="data"/> (shuffled each
    /// pass) and reports each step's metrics: loss, accuracy (share of pairs with r_c &gt; r_r), margin
    /// (mean r_c − r_r), lr, grad_norm (before clipping) and tokens_per_s.
    /// </summary>
    public void Train(IReadOnlyList<PreferencePair> data, Action<int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        if (data.Count == 0) throw new ArgumentException("reward training needs at least one preference pair");
        Determinism.SeedGlobal(_config.Seed);
        _loop.Run(data, Step, onStep, trainMode: true);
    }

    /// <summary>One optimizer step on <paramref name="batch"/> (BatchSize × GradientAccumulation pairs).</summary>
    internal IReadOnlyDictionary<string, double> Step(int step, IReadOnlyList<PreferencePair> batch)
    {
        var clock = Stopwatch.StartNew();
        var ((loss, accuracy, margin, tokens), gradNorm, lr) = _loop.Step(step, () => AccumulateGradients(batch));
        return new Dictionary<string, double>
        {
            ["loss"] = loss,
            ["accuracy"] = accuracy,
            ["margin"] = margin,
            ["lr"] = lr,
            ["grad_norm"] = gradNorm,
            ["tokens_per_s"] = tokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
        };
    }

    /// <summary>
    /// Forward and backward in micro-batches of BatchSize pairs (chosen and rejected in one forward),
    /// each loss divided by the whole batch's pair count so the accumulated gradient is the batch mean's.
    /// Returns the batch's mean loss (without the centring term), accuracy, margin and token count.
    /// </summary>
    internal (double Loss, double Accuracy, double Margin, long Tokens) AccumulateGradients(IReadOnlyList<PreferencePair> batch)
    {
        double loss = 0, correct = 0, marginSum = 0;
        long tokens = 0;
        for (int start = 0; start < batch.Count; start += _config.BatchSize)
        {
            using var scope = NewDisposeScope();
            var micro = batch.Skip(start).Take(_config.BatchSize).ToList();
            int b = micro.Count;
            var sequences = micro.Select(p => Truncate(p.ChosenIds)).Concat(micro.Select(p => Truncate(p.RejectedIds))).ToList();
            tokens += sequences.Sum(s => (long)s.Length);
            var rewards = ScoreHeadBatches.LastTokenLogits(_model, sequences).squeeze(1);      // (2B)
            var chosen = rewards.narrow(0, 0, b);                                               // (B)
            var rejected = rewards.narrow(0, b, b);                                             // (B)
            var margins = micro.Any(p => p.Margin != 0) ? tensor(micro.Select(p => (float)p.Margin).ToArray()) : null; // (B)
            var l = Losses.BradleyTerry(chosen, rejected, batch.Count, margins);               // ()
            var total = _config.CenterRewardsCoefficient > 0
                ? l.Plus(Losses.RewardCentering(chosen, rejected, batch.Count).Times(_config.CenterRewardsCoefficient))
                : l;
            total.backward();
            loss += l.item<float>();
            using var noGrad = no_grad();
            var delta = (chosen - rejected).detach();                                           // (B)
            correct += delta.GreaterThan(0).to_type(ScalarType.Float32).sum().item<float>();
            marginSum += delta.sum().item<float>();
        }
        return (loss, correct / batch.Count, marginSum / batch.Count, tokens);
    }

    int[] Truncate(int[] ids)
    {
        if (ids.Length == 0) throw new ArgumentException("every preference sequence needs at least one token");
        return ids.Length <= _maxLength ? ids : ids[.._maxLength];
    }

    public void Dispose() => _loop.Dispose();
}
