using Ares.Models.Generation;
using Ares.Models.Nn;
using static TorchSharp.torch;
using RewardFunction = System.Func<System.Collections.Generic.IReadOnlyList<(int[] Prompt, int[] Completion)>, System.Collections.Generic.IReadOnlyList<double>>;

namespace Ares.Models.Training;

/// <summary>
/// One step's samples: k completions per prompt, prompt-major (completion i belongs to prompt i / k),
/// and one reward per completion.
/// </summary>
internal sealed record Rollouts(IReadOnlyList<int[]> Prompts, IReadOnlyList<int[]> Completions, IReadOnlyList<double> Rewards)
{
    public int GroupSize => Completions.Count / Prompts.Count;

    public void Validate()
    {
        if (Prompts.Count == 0) throw new ArgumentException("rollouts need at least one prompt");
        if (Completions.Count % Prompts.Count != 0 || Completions.Count == 0)
            throw new ArgumentException($"{Completions.Count} completions for {Prompts.Count} prompts: expected the same number k ≥ 1 per prompt");
        if (Rewards.Count != Completions.Count) throw new ArgumentException($"{Rewards.Count} rewards for {Completions.Count} completions: expected one each");
        for (int i = 0; i < Rewards.Count; i++)
            if (!double.IsFinite(Rewards[i])) throw new ArgumentException($"reward {i} is {Rewards[i]}: rewards must be finite");
        if (Completions.Any(c => c.Length == 0)) throw new ArgumentException("every completion needs at least one token");
    }
}

/// <summary>
/// Group-baseline policy optimisation (RLOO, Ahmadian et al. 2024; GRPO, Shao et al. 2024) of a
/// <see cref="CausalLM"/> against a caller-supplied reward over token ids. Each step samples k
/// completions per prompt from the current policy, takes one gradient step on them and discards
/// them: on-policy, so the importance ratio π/π_old is 1 and PPO/GRPO's ratio clipping would never
/// bind (see <see cref="PolicyLosses.PolicyGradientLoss"/>). Responsible for sampling, advantages, the
/// KL penalty, the optimizer and its schedule; does not own the model, know what rewards mean, or
/// persist anything. Forward passes run in eval mode (no dropout, TRL's disable_dropout), so the
/// log-probs trained on are those of the distribution sampled from.
/// </summary>
internal sealed class PolicyRlTrainer : IDisposable
{
    readonly CausalLM _model;
    readonly PolicyRlConfig _config;
    readonly ReferencePolicy _reference;
    readonly TrainingLoop _loop;
    readonly TextGenerator _generator;

    /// <param name="reference">A frozen reference model; null uses the policy with its LoRA adapters disabled.</param>
    public PolicyRlTrainer(CausalLM model, PolicyRlConfig config, CausalLM? reference = null)
    {
        config.Validate();
        if (!model.HasLmHead) throw new ArgumentException("policy optimisation needs a model with an LM head, not a sequence classifier");
        _reference = ReferencePolicy.For(model, reference);
        _model = model;
        _config = config;
        _loop = new TrainingLoop(model, config);
        // Completions stay token ids; the tokenizer only has to name them.
        _generator = new TextGenerator(model, new IdTokenizer(model.Config.VocabSize));
    }

    internal ReferencePolicy Reference => _reference;

    /// <summary>
    /// Runs <see cref="PolicyRlConfig.MaxSteps"/> steps of BatchSize × GradientAccumulation prompts
    /// drawn from <paramref name="prompts"/> (shuffled each pass). <paramref name="reward"/> gets every
    /// (prompt, completion) pair of a step at once, so a reward model can batch them, and returns one
    /// reward each. Metrics per step: reward/mean, reward/std (over the step's completions, before any
    /// KL shaping), kl (mean over completions of Σ_t k3, nats per completion), loss, advantage/mean,
    /// completion/length (tokens), lr, grad_norm (before clipping).
    /// <para>
    /// Resuming: every random draw is a function of (Seed, step) — sampling seeds, the prompt order —
    /// so the state a checkpoint needs is the model's weights, the optimizer (<see cref="SaveOptimizer"/>)
    /// and the next step, passed back as <paramref name="startStep"/>; <paramref name="endStep"/> stops early.
    /// </para>
    /// </summary>
    public void Train(IReadOnlyList<int[]> prompts, RewardFunction reward, Action<int, IReadOnlyDictionary<string, double>>? onStep = null,
        int startStep = 0, int? endStep = null)
    {
        if (prompts.Count == 0) throw new ArgumentException("policy optimisation needs at least one prompt");
        Determinism.SeedGlobal(_config.Seed);
        _loop.Run(prompts, (step, batch) => Step(step, Sample(step, batch, reward)), onStep, trainMode: false, startStep, endStep);   // passes run in eval mode themselves
    }

    /// <summary>AdamW's state (moments, step counts), for a checkpoint.</summary>
    public void SaveOptimizer(string path) => _loop.SaveOptimizer(path);

    /// <summary>Restores what <see cref="SaveOptimizer"/> wrote.</summary>
    public void LoadOptimizer(string path) => _loop.LoadOptimizer(path);

    /// <summary>
    /// k completions per prompt from the current policy, generated one micro-batch of prompts at a time
    /// (seeded by config seed, step and micro-batch), then scored by <paramref name="reward"/> in one call.
    /// </summary>
    internal Rollouts Sample(int step, IReadOnlyList<int[]> prompts, RewardFunction reward)
    {
        int k = _config.CompletionsPerPrompt;
        var completions = new List<int[]>(prompts.Count * k);
        for (int start = 0, micro = 0; start < prompts.Count; start += _config.BatchSize, micro++)
        {
            var repeated = prompts.Skip(start).Take(_config.BatchSize).SelectMany(p => Enumerable.Repeat(p, k)).ToList();
            var options = new GenerationOptions
            {
                MaxNewTokens = _config.MaxNewTokens,
                Temperature = _config.Temperature,
                StopIds = _config.StopIds,
                Seed = unchecked((_config.Seed * 1_000_003 + step) * 1_009 + micro),
            };
            completions.AddRange(_generator.Generate(repeated, options).Select(r => r.TokenIds));
        }
        var pairs = completions.Select((c, i) => (prompts[i / k], c)).ToList();
        var rewards = reward(pairs) ?? throw new InvalidOperationException("the reward function returned null");
        if (rewards.Count != pairs.Count)
            throw new InvalidOperationException($"the reward function returned {rewards.Count} rewards for {pairs.Count} completions");
        var rollouts = new Rollouts(prompts, completions, rewards.ToArray());
        rollouts.Validate();
        return rollouts;
    }

    /// <summary>One optimizer step on given rollouts (whose prompts number BatchSize × GradientAccumulation or fewer).</summary>
    internal IReadOnlyDictionary<string, double> Step(int step, Rollouts rollouts)
    {
        var (stats, gradNorm, lr) = _loop.Step(step, () => AccumulateGradients(rollouts));
        double mean = rollouts.Rewards.Average();
        return new Dictionary<string, double>
        {
            ["reward/mean"] = mean,
            ["reward/std"] = Math.Sqrt(rollouts.Rewards.Average(r => (r - mean) * (r - mean))),
            ["kl"] = stats.Kl,
            ["loss"] = stats.Loss,
            ["advantage/mean"] = stats.AdvantageMean,
            ["completion/length"] = rollouts.Completions.Average(c => c.Length),
            ["lr"] = lr,
            ["grad_norm"] = gradNorm,
        };
    }

    /// <summary>
    /// Forward and backward over <paramref name="rollouts"/> in micro-batches of BatchSize prompts (with
    /// their k completions), adding into the gradients. Each micro-batch's loss is divided by the
    /// completion count of the whole batch and advantages are computed within groups, so accumulation
    /// equals one large batch. Returns the batch loss, mean k3 sequence KL and mean advantage.
    /// </summary>
    internal (double Loss, double Kl, double AdvantageMean) AccumulateGradients(Rollouts rollouts)
    {
        rollouts.Validate();
        int k = rollouts.GroupSize, total = rollouts.Completions.Count;
        if (k < 2) throw new ArgumentException($"a group baseline needs ≥ 2 completions per prompt, got {k}");
        double loss = 0, klSum = 0, advantageSum = 0;
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            for (int start = 0; start < rollouts.Prompts.Count; start += _config.BatchSize)
            {
                using var scope = NewDisposeScope();
                int groups = Math.Min(_config.BatchSize, rollouts.Prompts.Count - start), n = groups * k;
                var prompts = Enumerable.Range(start * k, n).Select(i => rollouts.Prompts[i / k]).ToList();
                var completions = Enumerable.Range(start * k, n).Select(i => rollouts.Completions[i]).ToList();
                var rewards = tensor(Enumerable.Range(start * k, n).Select(i => (float)rollouts.Rewards[i]).ToArray()).reshape(groups, k); // (G, k)

                var (refLogp, _) = _reference.ContinuationLogProbs(prompts, completions);             // (n, T)
                var (logp, mask) = SequenceScorer.ContinuationLogProbs(_model, prompts, completions);  // (n, T)
                var sampled = logp.detach();
                var klPerCompletion = PolicyLosses.MaskedSum(PolicyLosses.K3Kl(sampled, refLogp), mask); // (n)
                if (_config.KlPenalty == KlPenalty.InReward)
                    rewards = rewards - PolicyLosses.MaskedSum(sampled - refLogp, mask).reshape(groups, k).Times(_config.Beta); // k1: its REINFORCE gradient is ∇KL
                var advantages = (_config.Advantage == AdvantageKind.Rloo
                    ? PolicyLosses.RlooAdvantages(rewards)
                    : PolicyLosses.GrpoAdvantages(rewards, _config.GrpoEps)).reshape(n);               // (n)
                double betaInLoss = _config.KlPenalty == KlPenalty.PerTokenK3 ? _config.Beta : 0;
                var l = PolicyLosses.PolicyGradientLoss(logp, refLogp, mask, advantages, betaInLoss, _config.LengthNormalised, total); // ()
                l.backward();
                loss += l.item<float>();
                klSum += klPerCompletion.sum().item<float>();
                advantageSum += advantages.sum().item<float>();
            }
        }
        finally { _model.train(wasTraining); }
        return (loss, klSum / total, advantageSum / total);
    }

    public void Dispose() => _loop.Dispose();
}
