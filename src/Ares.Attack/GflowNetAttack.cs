using System.Text.Json;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Nn;
using Ares.Models.Training;
using Ares.RedTeam.Chat;
using static TorchSharp.torch;

namespace Ares.RedTeam.Attack;

/// <summary>The GFlowNet attacker's settings beyond trajectory balance's own (<see cref="GflowNetConfig"/>).</summary>
internal sealed record GflowNetAttackOptions
{
    /// <summary>Trajectory balance, schedules, buffer and optimiser; MaxSteps is the step budget.</summary>
    public GflowNetConfig Training { get; init; } = new();
    /// <summary>The paper's LoRA: r = 32, α = 16, on the attention and MLP projections; no dropout, so p_ref and π are exact.</summary>
    public LoraConfig Lora { get; init; } = new() { Rank = 32, Alpha = 16, Dropout = 0, TargetModules = ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "gate_proj"] };
    /// <summary>How the target answers each attack prompt (k responses each, the scorer's setting); the seed moves with the step.</summary>
    public ChatSampling TargetSampling { get; init; } = new() { MaxTokens = 48, Temperature = 1.0, Seed = 0 };
    /// <summary>p(harmful) is clamped below at this before the log, so a certain refusal is a finite penalty.</summary>
    public double HarmFloor { get; init; } = 1e-6;
    /// <summary>Write a checkpoint every this many steps (and after the last).</summary>
    public int CheckpointEvery { get; init; } = 50;
    /// <summary>What embeds prompts for the replay buffer's near-duplicate test (cosine above Training.BufferSimilarity).</summary>
    public BufferEmbedding BufferEmbedder { get; init; } = BufferEmbedding.MiniLm;
}

/// <summary>
/// The replay buffer's prompt embeddings: the MiniLM sentence encoder, for which the paper's threshold
/// (cosine 0.4) is calibrated, or the attacker's own mean-pooled states with adapters disabled (the
/// earlier default, whose cosines run high: the sandbox used 0.95 with it).
/// </summary>
internal enum BufferEmbedding { MiniLm, AttackerStates }

/// <summary>A prompt the attacker sampled in training, kept for MLE smoothing.</summary>
internal sealed record CollectedPrompt(string Prompt, double MeanHarm, double RefLogProb, int Step);

/// <summary>
/// Trains an SFT'd attacker as a GFlowNet red-teamer (Lee et al. 2024): LoRA on the attacker, log-reward
/// (log p_ref(x)/γ + mean_k log p_harm(y_k | x)/β)/T with p_ref the attacker with adapters disabled,
/// p_harm from <see cref="AttackScorer"/> (k target responses, judged), trajectory balance through
/// <see cref="GflowNetTrainer"/>. Every online sample is collected with its mean harm and reference
/// log-prob for <see cref="MleSmoothing"/>. Checkpoints (adapter, log Z head, optimiser, buffer,
/// collected prompts, step) go to OutDir/checkpoint and a run resumes from them exactly. Responsible
/// for the reward, checkpoints and collection; does not own the scorer's target or judge.
/// </summary>
internal sealed class GflowNetAttack : IDisposable
{
    public const string CheckpointDir = "checkpoint", StateFile = "state.json", CollectedFile = "collected.json";

    readonly LoadedModel _attacker;
    readonly AttackScorer _scorer;
    readonly GflowNetAttackOptions _options;
    readonly string _attackerDir;
    readonly int[] _context;
    readonly GflowNetTrainer _trainer;
    readonly List<CollectedPrompt> _collected = [];
    int _nextStep;
    int _step;   // the step whose samples are being scored

    /// <param name="attackerDir">The SFT attacker (HF directory); LoRA is put on it, or loaded from a checkpoint.</param>
    /// <param name="outDir">Where checkpoints go; with <paramref name="resume"/> an existing checkpoint there is continued.</param>
    public GflowNetAttack(string attackerDir, AttackerContext context, AttackScorer scorer, GflowNetAttackOptions options, string outDir, bool resume)
    {
        if (!(options.HarmFloor is > 0 and < 1)) throw new ArgumentException($"harm floor must be in (0, 1), got {options.HarmFloor}");
        if (options.CheckpointEvery < 1) throw new ArgumentException($"checkpoint interval must be ≥ 1 step, got {options.CheckpointEvery}");
        _attackerDir = attackerDir;
        _scorer = scorer;
        _options = options;
        OutDir = outDir;
        (_attacker, _context, string checkpoint, bool continuing) =
            AttackCheckpoint.LoadAttacker(attackerDir, context, options.Lora, outDir, CheckpointDir, StateFile, resume);
        try
        {
            var config = options.Training with { StopIds = AttackerContext.StopIds(_attacker) };
            _trainer = new GflowNetTrainer(_attacker.Model, _attacker.Tokenizer, _context, config);
            if (continuing) Restore(checkpoint);
        }
        catch { _attacker.Dispose(); throw; }
    }

    public string OutDir { get; }
    public int NextStep => _nextStep;
    public IReadOnlyList<CollectedPrompt> Collected => _collected;
    public GflowNetTrainer Trainer => _trainer;
    internal CausalLM Model => _attacker.Model;

    /// <summary>Runs from the next step to MaxSteps, checkpointing every CheckpointEvery steps and at the end.</summary>
    public void Run(Action<int, IReadOnlyDictionary<string, double>>? onStep = null, int? stopAfter = null)
    {
        int end = Math.Min(_options.Training.MaxSteps, stopAfter ?? int.MaxValue);
        for (int step = _nextStep; step < end; step++)
        {
            _step = step;
            var metrics = _trainer.Step(step, Reward);
            _nextStep = step + 1;
            if (_nextStep % _options.CheckpointEvery == 0 || _nextStep == end) SaveCheckpoint();
            onStep?.Invoke(step, metrics);
        }
    }

    /// <summary>The reward callback: harm from the scorer, p_ref from the attacker with adapters disabled, buffer embeddings from <see cref="GflowNetAttackOptions.BufferEmbedder"/>.</summary>
    GflowNetScores Reward(IReadOnlyList<int[]> ids, IReadOnlyList<string> texts)
    {
        var sampling = _options.TargetSampling with { Seed = (_options.TargetSampling.Seed ?? 0) + 1_000_003L * _step };
        var scorer = new AttackScorer(_scorer.Target, _scorer.Judge, sampling, _scorer.ResponsesPerPrompt);
        var scores = scorer.ScoreAsync(texts).GetAwaiter().GetResult();
        var (refLogProbs, stateEmbeddings) = Reference(_attacker.Model, _context, ids);
        var embeddings = _options.BufferEmbedder == BufferEmbedding.MiniLm
            ? MiniLmEmbedder.Shared.Embed(texts).Select(e => (float[]?)e).ToArray()
            : stateEmbeddings;
        var terms = new List<RewardTerms>(ids.Count);
        for (int i = 0; i < ids.Count; i++)
        {
            terms.Add(new RewardTerms(refLogProbs[i], scores[i].MeanLogHarm(_options.HarmFloor)));
            _collected.Add(new CollectedPrompt(texts[i], scores[i].MeanHarm, refLogProbs[i], _step));
        }
        return new GflowNetScores(terms, embeddings, new Dictionary<string, double>
        {
            ["harm/mean"] = scores.Average(s => s.MeanHarm),
            ["success/rate"] = scores.Average(s => s.Success ? 1.0 : 0.0),
            ["ref_logprob/mean"] = refLogProbs.Average(),
        });
    }

    /// <summary>
    /// log p_ref(x | c) and the mean-pooled final hidden state of x (the buffer's embedding) under the
    /// model with its adapters disabled: one no-grad pass of c + x.
    /// </summary>
    internal static (double[] RefLogProbs, float[]?[] Embeddings) Reference(CausalLM model, int[] context, IReadOnlyList<int[]> ids)
    {
        using var noGrad = no_grad();
        bool adapters = LoraAdapters.ConfigOf(model) is not null;
        if (adapters) LoraAdapters.SetEnabled(model, false);
        try
        {
            using var scope = NewDisposeScope();
            var contexts = Enumerable.Repeat(context, ids.Count).ToList();
            var refLogProbs = SequenceScorer.SumLogProbs(model, contexts, ids).data<float>().Select(x => (double)x).ToArray(); // (B)
            using var batch = new PaddedBatch(ids.Select(x => (IReadOnlyList<int>)x).ToList());
            var hidden = model.Hidden(batch.Ids, batch.Positions, batch.KeyValidOrNull).to_type(ScalarType.Float32); // (B, T, d)
            var w = batch.Valid.to_type(ScalarType.Float32).unsqueeze(-1);                                           // (B, T, 1)
            var pooled = (hidden * w).sum(1) / w.sum(1);                                                              // (B, d)
            int d = (int)pooled.shape[1];
            var flat = pooled.data<float>().ToArray();
            var embeddings = Enumerable.Range(0, ids.Count).Select(i => (float[]?)flat[(i * d)..((i + 1) * d)]).ToArray();
            return (refLogProbs, embeddings);
        }
        finally { if (adapters) LoraAdapters.SetEnabled(model, true); }
    }

    /// <summary>Writes the checkpoint to a fresh directory and swaps it in, so a crash never leaves a half-written one.</summary>
    public void SaveCheckpoint() => AttackCheckpoint.Replace(Path.Combine(OutDir, CheckpointDir), tmp =>
    {
        LoraAdapters.SaveAdapter(_attacker.Model, tmp, _attackerDir);
        _trainer.SaveState(tmp);
        File.WriteAllText(Path.Combine(tmp, CollectedFile), JsonSerializer.Serialize(_collected));
        File.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(new { next_step = _nextStep, attacker = _attackerDir }));
    });

    void Restore(string checkpoint)
    {
        string statePath = Path.Combine(checkpoint, StateFile), collectedPath = Path.Combine(checkpoint, CollectedFile);
        try
        {
            using var state = JsonDocument.Parse(File.ReadAllText(statePath));
            _nextStep = state.RootElement.GetProperty("next_step").GetInt32();
            _collected.AddRange(JsonSerializer.Deserialize<List<CollectedPrompt>>(File.ReadAllText(collectedPath))
                ?? throw new InvalidDataException($"{collectedPath}: expected a JSON array of collected prompts"));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{checkpoint}: unreadable checkpoint state ({e.Message})", e);
        }
        _trainer.LoadState(checkpoint);
    }

    /// <summary>Samples <paramref name="count"/> attack prompts from the current attacker at temperature 1 (adapters on).</summary>
    public IReadOnlyList<string> Sample(int count, long seed) => AttackerSampling.Sample(_attacker, _context, count, _options.Training.MaxTokens, seed);

    public void Dispose()
    {
        _trainer.Dispose();
        _attacker.Dispose();
    }
}

/// <summary>Plain sampling of attack prompts from an attacker after its context (for evaluation and smoothing checks).</summary>
internal static class AttackerSampling
{
    public static IReadOnlyList<string> Sample(LoadedModel attacker, int[] context, int count, int maxTokens, long seed, double temperature = 1.0)
    {
        var generator = new TextGenerator(attacker.Model, attacker.Tokenizer);
        var options = new GenerationOptions { MaxNewTokens = maxTokens, Temperature = temperature, StopIds = AttackerContext.StopIds(attacker), Seed = seed };
        return generator.Generate(Enumerable.Repeat(context, count).ToList(), options).Select(r => r.Text.Trim()).ToList();
    }
}
