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
}

/// <summary>
/// The RL red-teaming baseline (REINFORCE with a leave-one-out baseline and KL to the SFT attacker, as
/// the paper compares against), rewarded with the same mean harm over k target responses. Responsible
/// for the reward and collection; the optimisation is <see cref="PolicyRlTrainer"/>'s.
/// </summary>
internal sealed class ReinforceAttack : IDisposable
{
    readonly LoadedModel _attacker;
    readonly string _attackerDir;
    readonly AttackScorer _scorer;
    readonly ReinforceAttackOptions _options;
    readonly int[] _context;
    readonly List<CollectedPrompt> _collected = [];
    readonly List<float[]> _seen = [];
    int _step;

    public ReinforceAttack(string attackerDir, AttackerContext context, AttackScorer scorer, ReinforceAttackOptions options)
    {
        if (!(options.NoveltyBonus >= 0) || double.IsInfinity(options.NoveltyBonus)) throw new ArgumentException($"novelty bonus must be ≥ 0 and finite, got {options.NoveltyBonus}");
        _scorer = scorer;
        _options = options;
        _attackerDir = attackerDir;
        _attacker = ModelLoader.Load(attackerDir);
        try
        {
            _context = context.ContextIds(_attacker);
            LoraAdapters.Apply(_attacker.Model, options.Lora);
        }
        catch { _attacker.Dispose(); throw; }
    }

    public IReadOnlyList<CollectedPrompt> Collected => _collected;

    public void Run(Action<int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        var config = _options.Training with { StopIds = AttackerContext.StopIds(_attacker) };
        using var trainer = new PolicyRlTrainer(_attacker.Model, config);
        var prompts = Enumerable.Repeat(_context, config.BatchSize * config.GradientAccumulation).ToList();
        trainer.Train(prompts, Reward, (i, m) => { _step = i + 1; onStep?.Invoke(i, m); });
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

    public IReadOnlyList<string> Sample(int count, long seed) => AttackerSampling.Sample(_attacker, _context, count, _options.Training.MaxNewTokens, seed);

    /// <summary>The trained LoRA adapter (PEFT layout, base = the SFT attacker), so `ares attack eval` can load it.</summary>
    public void SaveAdapter(string dir) => LoraAdapters.SaveAdapter(_attacker.Model, dir, _attackerDir);

    public void Dispose() => _attacker.Dispose();
}
