using System.Text.Json;
using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Training;
using Ares.RedTeam.Chat;

namespace Ares.RedTeam.Attack;

/// <summary>The REINFORCE baseline's settings.</summary>
internal sealed record ReinforceAttackOptions
{
    /// <summary>
    /// RLOO with KL to the SFT attacker (adapters disabled). BatchSize × CompletionsPerPrompt prompts per
    /// step: 4 × 4 = 16, the GFlowNet's batch, so equal steps are an equal target-query budget.
    /// </summary>
    public PolicyRlConfig Training { get; init; } = new() { LearningRate = 1e-4, BatchSize = 4, CompletionsPerPrompt = 4, MaxNewTokens = 20, Beta = 0.05, MaxSteps = 5000 };
    public LoraConfig Lora { get; init; } = new GflowNetAttackOptions().Lora;
    public ChatSampling TargetSampling { get; init; } = new GflowNetAttackOptions().TargetSampling;
    /// <summary>
    /// Novelty bonus weight λ: reward + λ·(1 − max cosine similarity to the prompts of earlier steps),
    /// embeddings as the GFlowNet buffer's. 0 = plain REINFORCE.
    /// </summary>
    public double NoveltyBonus { get; init; }
    /// <summary>Write a checkpoint every this many steps (and after the last).</summary>
    public int CheckpointEvery { get; init; } = 50;
}

/// <summary>
/// The RL red-teaming baseline (REINFORCE with a leave-one-out baseline and KL to the SFT attacker, as
/// the paper compares against), rewarded with the same mean harm over k target responses. Responsible
/// for the reward, collection and checkpoints; the optimisation is <see cref="PolicyRlTrainer"/>'s.
/// Checkpoints (OutDir/checkpoint: adapter, optimizer, collected prompts, the novelty bonus's
/// embeddings, next step) resume exactly: every random draw (completion sampling, target responses,
/// prompt order) is a function of (seed, step), so no generator state needs saving, and the
/// adapter, AdamW moments and embeddings are written bit for bit.
/// </summary>
internal sealed class ReinforceAttack : IDisposable
{
    public const string CheckpointDir = "checkpoint", NoveltyFile = "novelty.json";

    readonly LoadedModel _attacker;
    readonly string _attackerDir;
    readonly AttackScorer _scorer;
    readonly ReinforceAttackOptions _options;
    readonly int[] _context;
    readonly List<CollectedPrompt> _collected = [];
    readonly List<float[]> _seen = [];
    readonly string? _optimizerToLoad;
    int _nextStep;
    int _step;   // the step whose samples are being scored

    /// <param name="attackerDir">The SFT attacker (HF directory); LoRA is put on it, or loaded from a checkpoint.</param>
    /// <param name="outDir">Where checkpoints go (OutDir/checkpoint); with <paramref name="resume"/> an existing checkpoint there is continued.</param>
    public ReinforceAttack(string attackerDir, AttackerContext context, AttackScorer scorer, ReinforceAttackOptions options, string outDir, bool resume = false)
    {
        if (!(options.NoveltyBonus >= 0) || double.IsInfinity(options.NoveltyBonus)) throw new ArgumentException($"novelty bonus must be ≥ 0 and finite, got {options.NoveltyBonus}");
        if (options.CheckpointEvery < 1) throw new ArgumentException($"checkpoint interval must be ≥ 1 step, got {options.CheckpointEvery}");
        _scorer = scorer;
        _options = options;
        _attackerDir = attackerDir;
        OutDir = outDir;
        (_attacker, _context, string checkpoint, bool continuing) =
            AttackCheckpoint.LoadAttacker(attackerDir, context, options.Lora, outDir, CheckpointDir, GflowNetAttack.StateFile, resume);
        if (!continuing) return;
        try { Restore(checkpoint); }
        catch { _attacker.Dispose(); throw; }
        _optimizerToLoad = Path.Combine(checkpoint, GflowNetTrainer.OptimizerFileName);
    }

    public string OutDir { get; }
    public int NextStep => _nextStep;
    public IReadOnlyList<CollectedPrompt> Collected => _collected;

    /// <summary>Runs from the next step to MaxSteps (or <paramref name="stopAfter"/>), checkpointing every CheckpointEvery steps and at the end.</summary>
    public void Run(Action<int, IReadOnlyDictionary<string, double>>? onStep = null, int? stopAfter = null)
    {
        var config = _options.Training with { StopIds = AttackerContext.StopIds(_attacker) };
        int end = Math.Min(config.MaxSteps, stopAfter ?? int.MaxValue);
        using var trainer = new PolicyRlTrainer(_attacker.Model, config);
        if (_optimizerToLoad is not null) trainer.LoadOptimizer(_optimizerToLoad);
        var prompts = Enumerable.Repeat(_context, config.BatchSize * config.GradientAccumulation).ToList();
        _step = _nextStep;
        trainer.Train(prompts, Reward, (i, m) =>
        {
            _nextStep = _step = i + 1;
            if (_nextStep % _options.CheckpointEvery == 0 || _nextStep == end) SaveCheckpoint(trainer);
            onStep?.Invoke(i, m);
        }, startStep: _nextStep, endStep: end);
    }

    IReadOnlyList<double> Reward(IReadOnlyList<(int[] Prompt, int[] Completion)> pairs)
    {
        var stops = AttackerContext.StopIds(_attacker);
        var ids = pairs.Select(p => p.Completion.Length > 0 && stops.Contains(p.Completion[^1]) ? p.Completion[..^1] : p.Completion).ToList();
        var texts = ids.Select(x => _attacker.Tokenizer.Decode(x).Trim()).ToList();
        var sampling = _options.TargetSampling with { Seed = (_options.TargetSampling.Seed ?? 0) + 1_000_003L * _step };
        var scores = new AttackScorer(_scorer.Target, _scorer.Judge, sampling, _scorer.ResponsesPerPrompt).ScoreAsync(texts).GetAwaiter().GetResult();
        var (refLogProbs, embeddings) = GflowNetAttack.Reference(_attacker.Model, _context, pairs.Select(p => p.Completion.Length > 0 ? p.Completion : [0]).ToList());
        var rewards = new double[pairs.Count];
        for (int i = 0; i < pairs.Count; i++)
        {
            double novelty = _options.NoveltyBonus > 0 && _seen.Count > 0 ? 1 - _seen.Max(e => ReplayBuffer.Cosine(e, embeddings[i]!)) : 0;
            rewards[i] = scores[i].MeanHarm + _options.NoveltyBonus * novelty;
            _collected.Add(new CollectedPrompt(texts[i], scores[i].MeanHarm, refLogProbs[i], _step));
        }
        if (_options.NoveltyBonus > 0) _seen.AddRange(embeddings.Select(e => e!));
        return rewards;
    }

    /// <summary>Writes the checkpoint to a fresh directory and swaps it in.</summary>
    void SaveCheckpoint(PolicyRlTrainer trainer) => AttackCheckpoint.Replace(Path.Combine(OutDir, CheckpointDir), tmp =>
    {
        LoraAdapters.SaveAdapter(_attacker.Model, tmp, _attackerDir);
        trainer.SaveOptimizer(Path.Combine(tmp, GflowNetTrainer.OptimizerFileName));
        File.WriteAllText(Path.Combine(tmp, GflowNetAttack.CollectedFile), JsonSerializer.Serialize(_collected));
        File.WriteAllText(Path.Combine(tmp, NoveltyFile), JsonSerializer.Serialize(_seen));
        File.WriteAllText(Path.Combine(tmp, GflowNetAttack.StateFile), JsonSerializer.Serialize(new { next_step = _nextStep, attacker = _attackerDir }));
    });

    void Restore(string checkpoint)
    {
        try
        {
            using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, GflowNetAttack.StateFile)));
            _nextStep = state.RootElement.GetProperty("next_step").GetInt32();
            _collected.AddRange(JsonSerializer.Deserialize<List<CollectedPrompt>>(File.ReadAllText(Path.Combine(checkpoint, GflowNetAttack.CollectedFile)))
                ?? throw new InvalidDataException($"{checkpoint}: {GflowNetAttack.CollectedFile} is not a JSON array of collected prompts"));
            _seen.AddRange(JsonSerializer.Deserialize<List<float[]>>(File.ReadAllText(Path.Combine(checkpoint, NoveltyFile)))
                ?? throw new InvalidDataException($"{checkpoint}: {NoveltyFile} is not a JSON array of embeddings"));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FileNotFoundException)
        {
            throw new InvalidDataException($"{checkpoint}: unreadable REINFORCE checkpoint ({e.Message})", e);
        }
    }

    public IReadOnlyList<string> Sample(int count, long seed) => AttackerSampling.Sample(_attacker, _context, count, _options.Training.MaxNewTokens, seed);

    /// <summary>The trained LoRA adapter (PEFT layout, base = the SFT attacker), so `ares attack eval` can load it.</summary>
    public void SaveAdapter(string dir) => LoraAdapters.SaveAdapter(_attacker.Model, dir, _attackerDir);

    public void Dispose() => _attacker.Dispose();
}
