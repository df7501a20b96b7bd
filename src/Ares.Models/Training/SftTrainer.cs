using System.Diagnostics;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// Trains a <see cref="CausalLM"/> (typically its LoRA adapters) on prompt–completion examples.
/// Responsible for batching, loss, the optimizer and its schedule; does not own the model, load
/// data or persist checkpoints. Trainable parameters must be fp32: a bf16 base trains through
/// fp32 LoRA adapters (pure-bf16 AdamW would round most updates away).
/// </summary>
internal sealed class SftTrainer : IDisposable
{
    readonly CausalLM _model;
    readonly SftConfig _config;
    readonly TrainingLoop _loop;
    readonly int _maxLength;

    public SftTrainer(CausalLM model, SftConfig config)
    {
        config.Validate();
        if (!model.HasLmHead) throw new ArgumentException("SFT needs a model with an LM head, not a sequence classifier");
        _model = model;
        _config = config;
        _maxLength = Math.Min(config.MaxLength, model.Config.MaxSequenceLength);
        _loop = new TrainingLoop(model, config);
    }

    /// <summary>
    /// Runs <see cref="SftConfig.MaxSteps"/> optimizer steps over <paramref name="data"/> (shuffled
    /// each pass) and reports each step's metrics: loss (mean over target tokens), lr, grad_norm
    /// (before clipping) and tokens_per_s (input tokens).
    /// </summary>
    public void Train(IReadOnlyList<SftExample> data, Action<int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        if (data.Count == 0) throw new ArgumentException("SFT needs at least one example");
        Determinism.SeedGlobal(_config.Seed);                 // SFT samples nothing; only LoRA dropout draws
        _loop.Run(data, Step, onStep, trainMode: true);
    }

    /// <summary>One optimizer step on <paramref name="batch"/> (BatchSize × GradientAccumulation examples).</summary>
    internal IReadOnlyDictionary<string, double> Step(int step, IReadOnlyList<SftExample> batch)
    {
        var clock = Stopwatch.StartNew();
        var ((loss, tokens), gradNorm, lr) = _loop.Step(step, () => AccumulateGradients(batch));
        return new Dictionary<string, double>
        {
            ["loss"] = loss,
            ["lr"] = lr,
            ["grad_norm"] = gradNorm,
            ["tokens_per_s"] = tokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
        };
    }

    /// <summary>
    /// Forward and backward over <paramref name="batch"/> in micro-batches of BatchSize, adding into
    /// the gradients. Each micro-batch's loss is its target-token NLL sum over the whole batch's
    /// target count, so the accumulated gradient is that of the batch mean (see
    /// <see cref="Losses.NextTokenCrossEntropy(Tensor, Tensor, Tensor, double)"/>).
    /// Returns the batch's mean loss and its input-token count.
    /// </summary>
    internal (double Loss, long Tokens) AccumulateGradients(IReadOnlyList<SftExample> batch)
    {
        var rows = batch.Select(Encode).ToList();
        long targetCount = rows.Sum(r => r.Mask.Count(m => m));
        if (targetCount == 0) throw new ArgumentException("no example in this batch has a token to learn (completions empty or truncated away by max length)");
        double loss = 0;
        for (int start = 0; start < rows.Count; start += _config.BatchSize)
        {
            using var scope = NewDisposeScope();
            var micro = rows.Skip(start).Take(_config.BatchSize).ToList();
            int b = micro.Count, t = micro.Max(r => r.Input.Length);
            var ids = new long[b * t];
            var targets = new long[b * t];
            var mask = new bool[b * t];
            for (int r = 0; r < b; r++)
                for (int c = 0; c < micro[r].Input.Length; c++)
                {
                    ids[r * t + c] = micro[r].Input[c];
                    targets[r * t + c] = micro[r].Target[c];
                    mask[r * t + c] = micro[r].Mask[c];
                }
            // Right padding needs no attention mask: under causal attention no real token sees a pad.
            var positions = ScalarOps.Arange(t).unsqueeze(0).expand(b, t);                  // (B, T)
            var hidden = _model.Hidden(tensor(ids).reshape(b, t), positions);               // (B, T, d)
            // Project only the target positions to the vocabulary: (N, V) rather than (B, T, V).
            var where = tensor(mask).reshape(-1).nonzero().squeeze(1);                       // (N)
            var picked = hidden.reshape(b * t, -1).index_select(0, where);                   // (N, d)
            var logits = _model.LmLogits(picked);                                             // (N, V)
            var l = Losses.NextTokenCrossEntropy(logits, tensor(targets).index_select(0, where),
                ones(where.shape[0], dtype: ScalarType.Bool), targetCount);                   // ()
            l.backward();
            loss += l.item<float>();
        }
        return (loss, rows.Sum(r => (long)r.Input.Length));
    }

    /// <summary>Inputs, shifted targets and the loss mask for one example, truncated to MaxLength (capped at the model's context).</summary>
    (int[] Input, int[] Target, bool[] Mask) Encode(SftExample e)
    {
        if (e.PromptIds.Length == 0) throw new ArgumentException("every SFT prompt needs at least one token (e.g. BOS)");
        var seq = e.PromptIds.Concat(e.CompletionIds).Take(_maxLength).ToArray();
        if (seq.Length < 2) throw new ArgumentException("an SFT example needs at least two tokens (prompt and completion)");
        int n = seq.Length - 1;
        var mask = new bool[n];
        for (int i = 0; i < n; i++) mask[i] = !_config.CompletionOnlyLoss || i + 1 >= e.PromptIds.Length; // target i is token i + 1
        return (seq[..n], seq[1..], mask);
    }

    public void Dispose() => _loop.Dispose();
}
