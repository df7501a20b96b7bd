using Ares.Models.Generation;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// Trains a <see cref="CausalLM"/> (typically its LoRA adapters) by DPO on preference pairs.
/// Responsible for batching, reference log-probs, the loss, the optimizer and its schedule; does not
/// own the model, load data or persist checkpoints. Forward passes run in eval mode (no dropout,
/// TRL's disable_dropout), so policy and reference agree exactly until the policy moves.
/// </summary>
internal sealed class DpoTrainer : IDisposable
{
    readonly CausalLM _model;
    readonly DpoConfig _config;
    readonly ReferencePolicy _reference;
    readonly TrainingLoop _loop;
    readonly int _maxLength;

    /// <param name="reference">A frozen reference model; null uses the policy with its LoRA adapters disabled.</param>
    public DpoTrainer(CausalLM model, DpoConfig config, CausalLM? reference = null)
    {
        config.Validate();
        if (!model.HasLmHead) throw new ArgumentException("DPO needs a model with an LM head, not a sequence classifier");
        _reference = ReferencePolicy.For(model, reference);
        _model = model;
        _config = config;
        _maxLength = Math.Min(config.MaxLength, model.Config.MaxSequenceLength);
        _loop = new TrainingLoop(model, config);
    }

    /// <summary>
    /// Runs <see cref="DpoConfig.MaxSteps"/> optimizer steps over <paramref name="data"/> (shuffled each
    /// pass). Metrics per step: loss, rewards/chosen and rewards/rejected (mean implicit reward
    /// β·(log π − log π_ref) of each side), rewards/accuracy (share of pairs whose chosen reward is
    /// higher), rewards/margin (mean chosen − rejected), lr, grad_norm (before clipping).
    /// </summary>
    public void Train(IReadOnlyList<PreferenceExample> data, Action<int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        if (data.Count == 0) throw new ArgumentException("DPO needs at least one preference pair");
        _loop.Run(data, Step, onStep, trainMode: false);     // passes run in eval mode themselves
    }

    /// <summary>One optimizer step on <paramref name="batch"/> (BatchSize × GradientAccumulation pairs).</summary>
    internal IReadOnlyDictionary<string, double> Step(int step, IReadOnlyList<PreferenceExample> batch)
    {
        var (metrics, gradNorm, lr) = _loop.Step(step, () => Pass(batch, train: true));
        metrics["grad_norm"] = gradNorm;
        metrics["lr"] = lr;
        return metrics;
    }

    /// <summary>Loss and implicit-reward metrics of <paramref name="data"/> under the current policy, without training.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<PreferenceExample> data)
    {
        if (data.Count == 0) throw new ArgumentException("DPO evaluation needs at least one preference pair");
        using var noGrad = no_grad();
        return Pass(data, train: false);
    }

    /// <summary>
    /// Forward (and backward when <paramref name="train"/>) over <paramref name="batch"/> in micro-batches
    /// of BatchSize pairs, chosen and rejected in one forward. Each micro-batch's loss sum is divided by
    /// the whole batch's pair count, so accumulation equals one large batch. Returns the batch metrics.
    /// </summary>
    internal Dictionary<string, double> Pass(IReadOnlyList<PreferenceExample> batch, bool train)
    {
        var pairs = batch.Select(Truncate).ToList();
        int total = pairs.Count;
        double loss = 0, chosen = 0, rejected = 0, correct = 0;
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            for (int start = 0; start < total; start += _config.BatchSize)
            {
                using var scope = NewDisposeScope();
                var micro = pairs.Skip(start).Take(_config.BatchSize).ToList();
                int b = micro.Count;
                var prompts = micro.Select(p => p.PromptIds).Concat(micro.Select(p => p.PromptIds)).ToList();
                var completions = micro.Select(p => p.ChosenIds).Concat(micro.Select(p => p.RejectedIds)).ToList();
                var refLogp = _reference.SumLogProbs(prompts, completions);                        // (2b), no grad
                var logp = SequenceScorer.SumLogProbs(_model, prompts, completions);               // (2b)
                var (pc, pr) = (logp.narrow(0, 0, b), logp.narrow(0, b, b));                       // (b), (b)
                var (rc, rr) = (refLogp.narrow(0, 0, b), refLogp.narrow(0, b, b));
                var l = PolicyLosses.DpoLoss(pc, pr, rc, rr, _config.Beta, _config.LabelSmoothing).sum().DividedBy((long)total); // ()
                if (train) l.backward();
                var chosenReward = (pc.detach() - rc).Times(_config.Beta);                          // (b)
                var rejectedReward = (pr.detach() - rr).Times(_config.Beta);
                loss += l.item<float>();
                chosen += chosenReward.sum().item<float>();
                rejected += rejectedReward.sum().item<float>();
                correct += chosenReward.gt(rejectedReward).sum().item<long>();
            }
        }
        finally { _model.train(wasTraining); }
        return new Dictionary<string, double>
        {
            ["loss"] = loss,
            ["rewards/chosen"] = chosen / total,
            ["rewards/rejected"] = rejected / total,
            ["rewards/accuracy"] = correct / total,
            ["rewards/margin"] = (chosen - rejected) / total,
        };
    }

    /// <summary>Cuts both completions to fit MaxLength after the prompt (TRL truncates completions from the end).</summary>
    PreferenceExample Truncate(PreferenceExample e)
    {
        if (e.PromptIds.Length == 0) throw new ArgumentException("every DPO prompt needs at least one token (e.g. BOS)");
        if (e.PromptIds.Length >= _maxLength)
            throw new ArgumentException($"a DPO prompt of {e.PromptIds.Length} tokens leaves no room for a completion within max length {_maxLength}");
        if (e.ChosenIds.Length == 0 || e.RejectedIds.Length == 0) throw new ArgumentException("every DPO pair needs non-empty chosen and rejected completions");
        int room = _maxLength - e.PromptIds.Length;
        return e with { ChosenIds = e.ChosenIds.Take(room).ToArray(), RejectedIds = e.RejectedIds.Take(room).ToArray() };
    }

    public void Dispose() => _loop.Dispose();
}
