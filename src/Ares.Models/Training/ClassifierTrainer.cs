using System.Diagnostics;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// Trains a sequence classifier (a <see cref="CausalLM"/> with a `score` head of num_labels ≥ 2
/// outputs) with cross-entropy at each sequence's last token. Responsible for batching, loss, the
/// optimizer and its schedule; does not own the model, load data or persist checkpoints.
/// </summary>
internal sealed class ClassifierTrainer : IDisposable
{
    readonly CausalLM _model;
    readonly ClassifierConfig _config;
    readonly TrainingLoop _loop;
    readonly int _maxLength, _labels;

    public ClassifierTrainer(CausalLM model, ClassifierConfig config)
    {
        config.Validate();
        if (model.Config.NumLabels is not (int labels and >= 2))
            throw new ArgumentException($"a classifier needs a score head with num_labels ≥ 2, this model has {(model.Config.NumLabels is int n ? $"{n}" : "an LM head")}");
        _model = model;
        _config = config;
        _labels = labels;
        _maxLength = Math.Min(config.MaxLength, model.Config.MaxSequenceLength);
        _loop = new TrainingLoop(model, config);
    }

    /// <summary>
    /// Runs <see cref="ClassifierConfig.MaxSteps"/> optimizer steps over <paramref name="data"/> (shuffled
    /// each pass) and reports each step's metrics: loss, accuracy (argmax = label), lr, grad_norm
    /// (before clipping) and tokens_per_s.
    /// </summary>
    public void Train(IReadOnlyList<ClassifierExample> data, Action<int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        if (data.Count == 0) throw new ArgumentException("classifier training needs at least one example");
        foreach (var (e, i) in data.Select((e, i) => (e, i)))
            if (e.Label < 0 || e.Label >= _labels) throw new ArgumentException($"example {i} has label {e.Label}, expected 0 … {_labels - 1}");
        Determinism.SeedGlobal(_config.Seed);
        _loop.Run(data, Step, onStep, trainMode: true);
    }

    /// <summary>One optimizer step on <paramref name="batch"/> (BatchSize × GradientAccumulation examples).</summary>
    internal IReadOnlyDictionary<string, double> Step(int step, IReadOnlyList<ClassifierExample> batch)
    {
        var clock = Stopwatch.StartNew();
        var ((loss, accuracy, tokens), gradNorm, lr) = _loop.Step(step, () => AccumulateGradients(batch));
        return new Dictionary<string, double>
        {
            ["loss"] = loss,
            ["accuracy"] = accuracy,
            ["lr"] = lr,
            ["grad_norm"] = gradNorm,
            ["tokens_per_s"] = tokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
        };
    }

    /// <summary>Forward and backward in micro-batches of BatchSize; returns the batch's mean loss, accuracy and token count.</summary>
    internal (double Loss, double Accuracy, long Tokens) AccumulateGradients(IReadOnlyList<ClassifierExample> batch)
    {
        double loss = 0, correct = 0;
        long tokens = 0;
        for (int start = 0; start < batch.Count; start += _config.BatchSize)
        {
            using var scope = NewDisposeScope();
            var micro = batch.Skip(start).Take(_config.BatchSize).ToList();
            var sequences = micro.Select(e => Truncate(e.Ids)).ToList();
            tokens += sequences.Sum(s => (long)s.Length);
            var logits = ScoreHeadBatches.LastTokenLogits(_model, sequences);                  // (B, C)
            var labels = tensor(micro.Select(e => (long)e.Label).ToArray());                    // (B)
            var l = Losses.ClassificationCrossEntropy(logits, labels, batch.Count);             // ()
            l.backward();
            loss += l.item<float>();
            correct += logits.detach().argmax(1).eq(labels).to_type(ScalarType.Float32).sum().item<float>();
        }
        return (loss, correct / batch.Count, tokens);
    }

    int[] Truncate(int[] ids)
    {
        if (ids.Length == 0) throw new ArgumentException("every classifier sequence needs at least one token");
        return ids.Length <= _maxLength ? ids : ids[.._maxLength];
    }

    public void Dispose() => _loop.Dispose();
}
