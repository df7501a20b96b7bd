using Ares.Core.Tokenization;
using Ares.Models.Generation;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// What a reward callback returns for a batch of sequences: one <see cref="RewardTerms"/> each, an
/// optional embedding each (for the replay buffer's near-duplicate test) and any metrics to report.
/// </summary>
internal sealed record GflowNetScores(IReadOnlyList<RewardTerms> Terms, IReadOnlyList<float[]?>? Embeddings = null, IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>Scores sampled sequences (token ids without the context, a final stop token included; texts without it).</summary>
internal delegate GflowNetScores GflowNetRewardFunction(IReadOnlyList<int[]> tokenIds, IReadOnlyList<string> texts);

/// <summary>
/// Trains a <see cref="CausalLM"/> as a GFlowNet that samples sequences x after a fixed context c with
/// probability ∝ R(x), by trajectory balance with a learned log Z(c) (<see cref="LogZHead"/>). Each
/// step's batch comes, with probability ReplayProbability, from the <see cref="ReplayBuffer"/> (re-scored
/// under the current γ and T), else is sampled online — a fraction at a random temperature, the rest
/// at 1 — and scored by the caller; the loss always uses the temperature-1 policy's log-probs (TB is
/// valid off-policy). Responsible for sampling, the schedules, the buffer, the head and the optimizer;
/// does not own the model or know what rewards mean. Passes run in eval mode (no dropout), and every
/// random draw is seeded by (Seed, step), so a run resumed from <see cref="SaveState"/> repeats the
/// uninterrupted run's steps.
/// </summary>
internal sealed class GflowNetTrainer : IDisposable
{
    public const string OptimizerFileName = "optimizer.bin";
    public const string BufferFileName = "replay_buffer.json";

    readonly CausalLM _model;
    readonly ITokenizer _tokenizer;
    readonly int[] _context;
    readonly GflowNetConfig _config;
    readonly TrainingLoop _loop;
    readonly TextGenerator _generator;

    /// <param name="context">The prompt context c every sequence continues (e.g. the attacker's instruction); at least one token.</param>
    /// <param name="head">A log Z head to continue from (e.g. loaded from a checkpoint); null starts a fresh one at log Z = 0.</param>
    public GflowNetTrainer(CausalLM model, ITokenizer tokenizer, int[] context, GflowNetConfig config, LogZHead? head = null)
    {
        config.Validate();
        if (!model.HasLmHead) throw new ArgumentException("GFlowNet training needs a model with an LM head, not a sequence classifier");
        if (context.Length == 0) throw new ArgumentException("the GFlowNet context needs at least one token (e.g. BOS)");
        if (context.Length + config.MaxTokens > model.Config.MaxSequenceLength)
            throw new ArgumentException($"context ({context.Length} tokens) + MaxTokens ({config.MaxTokens}) exceeds the model's context of {model.Config.MaxSequenceLength}");
        Head = head ?? new LogZHead(model.Config.HiddenSize);
        if (Head.HiddenSize != model.Config.HiddenSize) throw new ArgumentException($"log Z head expects hidden size {Head.HiddenSize}, the model has {model.Config.HiddenSize}");
        _model = model;
        _tokenizer = tokenizer;
        _context = context;
        _config = config;
        _loop = new TrainingLoop(model, config, new ExtraParameters(Head.Parameters(), config.LogZLearningRate));
        _generator = new TextGenerator(model, tokenizer);
        Buffer = config.NewBuffer();
    }

    public LogZHead Head { get; }
    public ReplayBuffer Buffer { get; }
    public GflowNetConfig Config => _config;

    /// <summary>
    /// Runs steps <paramref name="startStep"/> to MaxSteps − 1 (a resumed run passes the next step),
    /// reporting each step's metrics to <paramref name="onStep"/>. Gradients are cleared at the end.
    /// </summary>
    public void Train(GflowNetRewardFunction reward, Action<int, IReadOnlyDictionary<string, double>>? onStep = null, int startStep = 0)
    {
        try
        {
            for (int step = startStep; step < _config.MaxSteps; step++)
            {
                var metrics = Step(step, reward);   // not inside onStep?.Invoke(...): it would be skipped without a callback
                onStep?.Invoke(step, metrics);
            }
        }
        finally { _model.zero_grad(); Head.zero_grad(); }
    }

    /// <summary>
    /// One step: build the batch (replayed or sampled and scored), then one optimizer step on the TB loss.
    /// Metrics: tb/loss, tb/log_z, reward/mean and reward/max (log R of the batch trained on),
    /// buffer/size, replay (1 or 0), temperature (the tempered half's sampling temperature; 1 when
    /// replayed), reward/temperature (T), gamma (γ), length/mean, lr, grad_norm, and the callback's metrics.
    /// </summary>
    public IReadOnlyDictionary<string, double> Step(int step, GflowNetRewardFunction reward)
    {
        var rng = new Random(StepSeed(_config.Seed, step));
        double gamma = _config.GammaAt(step), temperature = _config.RewardTemperatureAt(step);
        int total = _config.BatchSize * _config.GradientAccumulation;
        bool replay = Buffer.Count > 0 && rng.NextDouble() < _config.ReplayProbability;
        var metrics = new Dictionary<string, double>();
        List<int[]> sequences;
        double[] logRewards;
        double samplingTemperature = 1;
        if (replay)
        {
            var entries = Buffer.Sample(total, rng);
            sequences = entries.Select(e => e.TokenIds).ToList();
            logRewards = entries.Select(e => e.Terms is { } t ? LogReward(t, gamma, temperature) : e.LogReward).ToArray();
        }
        else
        {
            samplingTemperature = _config.SamplingTemperatureMin + (_config.SamplingTemperatureMax - _config.SamplingTemperatureMin) * rng.NextDouble();
            int tempered = (int)Math.Round(total * _config.TemperedFraction);
            sequences = [.. SampleOnline(tempered, samplingTemperature, step, 0), .. SampleOnline(total - tempered, 1.0, step, 1)];
            logRewards = ScoreOnline(sequences, reward, gamma, temperature, metrics);
        }

        var (stats, gradNorm, lr) = _loop.Step(step, () => AccumulateGradients(sequences, logRewards));
        metrics["tb/loss"] = stats.Loss;
        metrics["tb/log_z"] = stats.LogZ;
        metrics["reward/mean"] = logRewards.Average();
        metrics["reward/max"] = logRewards.Max();
        metrics["buffer/size"] = Buffer.Count;
        metrics["replay"] = replay ? 1 : 0;
        metrics["temperature"] = samplingTemperature;
        metrics["reward/temperature"] = temperature;
        metrics["gamma"] = gamma;
        metrics["length/mean"] = sequences.Average(s => s.Length);
        metrics["lr"] = lr;
        metrics["grad_norm"] = gradNorm;
        return metrics;
    }

    /// <summary>
    /// A well-mixed 32-bit seed for (seed, step) (SplitMix64's finaliser): System.Random's first draws
    /// from adjacent seeds are nearly equal, which would make replay/online choices come in long runs.
    /// </summary>
    internal static int StepSeed(long seed, int step)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)step + 0x632BE59BD9B4E019UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return (int)((z ^ (z >> 31)) & int.MaxValue);
    }

    double LogReward(RewardTerms t, double gamma, double temperature) =>
        GflowNetLosses.LogReward(t.PriorLogProb, t.TaskLogReward, gamma, _config.Beta, temperature);

    List<int[]> SampleOnline(int count, double temperature, int step, int part)
    {
        if (count == 0) return [];
        var options = new GenerationOptions
        {
            MaxNewTokens = _config.MaxTokens,
            Temperature = temperature,
            StopIds = _config.StopIds,
            Seed = unchecked((_config.Seed * 1_000_003 + step) * 2 + part),
        };
        return _generator.Generate(Enumerable.Repeat(_context, count).ToList(), options).Select(r => r.TokenIds).ToList();
    }

    /// <summary>Content tokens: the sequence without a final stop token.</summary>
    int[] Content(int[] sequence) =>
        sequence.Length > 0 && _config.StopIds.Contains(sequence[^1]) ? sequence[..^1] : sequence;

    /// <summary>log R per sequence: the penalty for too-short ones, the callback's terms for the rest (which also enter the buffer).</summary>
    double[] ScoreOnline(List<int[]> sequences, GflowNetRewardFunction reward, double gamma, double temperature, Dictionary<string, double> metrics)
    {
        var logRewards = new double[sequences.Count];
        var valid = new List<int>();
        for (int i = 0; i < sequences.Count; i++)
        {
            if (Content(sequences[i]).Length < _config.MinTokens) logRewards[i] = _config.TooShortLogReward;
            else valid.Add(i);
        }
        metrics["too_short"] = (double)(sequences.Count - valid.Count) / sequences.Count;
        if (valid.Count == 0) return logRewards;
        var ids = valid.Select(i => sequences[i]).ToList();
        var texts = ids.Select(s => _tokenizer.Decode(Content(s))).ToList();
        var scores = reward(ids, texts) ?? throw new InvalidOperationException("the reward function returned null");
        if (scores.Terms.Count != ids.Count) throw new InvalidOperationException($"the reward function returned {scores.Terms.Count} reward terms for {ids.Count} sequences");
        if (scores.Embeddings is { } emb && emb.Count != ids.Count) throw new InvalidOperationException($"the reward function returned {emb.Count} embeddings for {ids.Count} sequences");
        for (int j = 0; j < ids.Count; j++)
        {
            var t = scores.Terms[j];
            if (!double.IsFinite(t.PriorLogProb) || !double.IsFinite(t.TaskLogReward))
                throw new InvalidOperationException($"reward terms of '{texts[j]}' are not finite: prior {t.PriorLogProb}, task {t.TaskLogReward}");
            double logR = LogReward(t, gamma, temperature);
            logRewards[valid[j]] = logR;
            Buffer.Add(new ReplayEntry(texts[j], ids[j], logR, scores.Embeddings?[j], t));
        }
        if (scores.Metrics is { } m) foreach (var (k, v) in m) metrics[k] = v;
        return logRewards;
    }

    /// <summary>
    /// Forward and backward of the TB loss over micro-batches of BatchSize sequences, each scaled by its
    /// share of the batch so accumulation equals one large batch. Returns the batch loss and log Z(c).
    /// </summary>
    internal (double Loss, double LogZ) AccumulateGradients(IReadOnlyList<int[]> sequences, IReadOnlyList<double> logRewards)
    {
        double loss = 0, logZ = 0;
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            for (int start = 0; start < sequences.Count; start += _config.BatchSize)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(_config.BatchSize, sequences.Count - start);
                var batch = sequences.Skip(start).Take(n).ToList();
                var z = Head.Estimate(_model, [_context]);                                       // (1)
                var sumLogPf = SequenceScorer.SumLogProbs(_model, Enumerable.Repeat(_context, n).ToList(), batch); // (n)
                var logR = tensor(logRewards.Skip(start).Take(n).Select(r => (float)r).ToArray()); // (n)
                var l = GflowNetLosses.TrajectoryBalance(z.expand(n), sumLogPf, logR).Times((double)n / sequences.Count); // ()
                l.backward();
                loss += l.item<float>();
                logZ = z.item<float>();
            }
        }
        finally { _model.train(wasTraining); }
        return (loss, logZ);
    }

    /// <summary>The log Z head, optimizer state and replay buffer into <paramref name="dir"/> (the model's weights are the caller's).</summary>
    public void SaveState(string dir)
    {
        Directory.CreateDirectory(dir);
        Head.Save(dir);
        _loop.SaveOptimizer(Path.Combine(dir, OptimizerFileName));
        Buffer.Save(Path.Combine(dir, BufferFileName));
    }

    /// <summary>Restores what <see cref="SaveState"/> wrote (the head's weights in place).</summary>
    public void LoadState(string dir)
    {
        using (var saved = LogZHead.Load(dir))
        {
            if (saved.HiddenSize != Head.HiddenSize) throw new InvalidDataException($"{dir}: log Z head has hidden size {saved.HiddenSize}, this model {Head.HiddenSize}");
            using var noGrad = no_grad();
            foreach (var ((_, to), (_, from)) in Head.named_parameters().Zip(saved.named_parameters())) to.copy_(from);
        }
        _loop.LoadOptimizer(Path.Combine(dir, OptimizerFileName));
        Buffer.Load(Path.Combine(dir, BufferFileName));
    }

    public void Dispose() => _loop.Dispose();
}
