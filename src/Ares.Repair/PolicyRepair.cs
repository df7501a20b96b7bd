using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Nn;
using Ares.Models.Training;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Rewards;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Repair;

/// <summary>A training prompt and where it came from ("adversarial" from discovery, "benign" to keep capability).</summary>
internal sealed record RepairPrompt(string Text, string Kind)
{
    public const string Adversarial = "adversarial", Benign = "benign";
}

/// <summary>What a repair did: the mix, the steps, the last step's metrics, DPO's pair count, where the policy went.</summary>
internal sealed record PolicyRepairResult(
    PolicyRepairMethod Method, int AdversarialPrompts, int BenignPrompts, int Steps,
    IReadOnlyDictionary<string, double> LastMetrics, int PreferencePairs, string? SavedTo)
{
    /// <summary>The scored checkpoints, in step order (empty without checkpoint selection).</summary>
    public IReadOnlyList<CheckpointScore> Checkpoints { get; init; } = [];
    /// <summary>The kept checkpoint's step (0-based; its weights are the saved policy), or null when the last step was kept unscored.</summary>
    public int? SelectedStep { get; init; }
}

/// <summary>
/// ARES repair stage 2: moves the policy toward what the (already repaired) reward model prefers on a
/// mix of adversarial and benign prompts, by KL-regularised on-policy RL (RLOO/GRPO through
/// <see cref="PolicyRlTrainer"/>) or offline DPO on RM-ranked samples (<see cref="DpoTrainer"/>).
/// Responsible for the prompt mix, turning token ids into (prompt, text) for the RM, the reference
/// policy, merging and saving. Does not own: the RM (the caller passes the repaired one), the
/// optimiser maths (the trainers), or deciding whether the repair worked (<see cref="CapabilityEvaluation"/>).
/// </summary>
internal sealed class PolicyRepair
{
    public const string MetricsPhase = "policy_repair";
    /// <summary>The run store phase of the checkpoint scores (validation/harmful, validation/over_refusal).</summary>
    public const string ValidationPhase = "policy_repair_validation";

    readonly PolicyRepairConfig _config;

    public PolicyRepair(PolicyRepairConfig config)
    {
        config.Validate();
        _config = config;
    }

    /// <summary>The distinct attack prompts of discovery cases (cases whose mentor failed have none).</summary>
    public static IReadOnlyList<string> AdversarialPrompts(IEnumerable<ProbeCase> cases) =>
        cases.Where(c => c.Case is not null).Select(c => c.Case!.Prompt).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>
    /// <see cref="PolicyRepairConfig.MixSize"/> prompts, <see cref="PolicyRepairConfig.BenignShare"/> of them
    /// benign, each pool shuffled (seeded) and cycled when smaller than its share, then interleaved at random.
    /// </summary>
    public IReadOnlyList<RepairPrompt> Mix(IReadOnlyList<string> adversarial, IReadOnlyList<string> benign)
    {
        if (adversarial.Count == 0) throw new ArgumentException("policy repair needs at least one adversarial prompt (from discovery cases)");
        int nBenign = (int)Math.Round(_config.MixSize * _config.BenignShare);
        if (nBenign > 0 && benign.Count == 0) throw new ArgumentException($"BenignShare = {_config.BenignShare} needs benign prompts, none were given");
        var rng = new Random(unchecked((int)_config.Seed));
        IEnumerable<RepairPrompt> Take(IReadOnlyList<string> pool, int n, string kind)
        {
            var order = pool.ToArray();
            rng.Shuffle(order);
            return Enumerable.Range(0, n).Select(i => new RepairPrompt(order[i % order.Length], kind));
        }
        var mix = Take(adversarial, _config.MixSize - nBenign, RepairPrompt.Adversarial).Concat(Take(benign, nBenign, RepairPrompt.Benign)).ToArray();
        rng.Shuffle(mix);
        return mix;
    }

    /// <summary>
    /// Repairs <paramref name="policy"/> in place against <paramref name="rewardModel"/> on the mix of
    /// <paramref name="adversarial"/> and <paramref name="benign"/> prompts, then merges any LoRA adapters
    /// into its weights and, when <paramref name="outputDir"/> is given, saves it there as an HF directory.
    /// Metrics go to <paramref name="onStep"/> and, with <paramref name="store"/>, to run <paramref name="runId"/>
    /// under phase "policy_repair". With <see cref="PolicyRepairConfig.Selection"/> set and <paramref name="validation"/>
    /// given (RL only), checkpoints are scored on it every few steps and the selected one's weights are kept.
    /// </summary>
    public PolicyRepairResult Run(LoadedModel policy, IRewardModel rewardModel, IReadOnlyList<string> adversarial, IReadOnlyList<string> benign,
        string? outputDir = null, Action<int, IReadOnlyDictionary<string, double>>? onStep = null, RunStore? store = null, string? runId = null,
        RepairValidation? validation = null)
    {
        var selection = _config.Method == PolicyRepairMethod.Dpo || validation is null ? null : _config.Selection;
        validation?.Validate();
        if (store is not null && runId is null) throw new ArgumentException("metrics can go to a run store only with a run id");
        if (!policy.Model.HasLmHead) throw new ArgumentException($"{policy.SourcePath}: the policy must be a causal LM, not a sequence classifier");
        var mix = Mix(adversarial, benign);
        var template = policy.ResolveChatTemplate();
        int maxNew = _config.Method == PolicyRepairMethod.Dpo ? _config.DpoMaxNewTokens : _config.Rl.MaxNewTokens;
        var encoded = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var p in mix)
            if (!encoded.ContainsKey(p.Text))
            {
                var ids = ChatEncoding.Prompt(policy.Tokenizer, template, p.Text);
                if (ids.Length == 0 || ids.Length + maxNew > policy.Config.MaxSequenceLength)
                    throw new ArgumentException($"prompt '{Short(p.Text)}' is {ids.Length} tokens: with {maxNew} new tokens it does not fit {policy.SourcePath}'s context of {policy.Config.MaxSequenceLength}");
                encoded[p.Text] = ids;
            }
        // Prompt ids → text, so the RM reads the prompt as written, not a lossy decode of the chat layout.
        var textOf = new Dictionary<int[], string>(ReferenceEqualityComparer.Instance);
        foreach (var (text, ids) in encoded) textOf[ids] = text;
        var prompts = mix.Select(p => encoded[p.Text]).ToList();

        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        int steps = 0;
        void Record(int step, IReadOnlyDictionary<string, double> metrics)
        {
            (last, steps) = (metrics, step + 1);
            onStep?.Invoke(step, metrics);
            store?.AppendMetrics(runId!, MetricsPhase, step, metrics);
        }

        var stops = StopIds(policy);
        using var reference = _config.Lora is null ? ModelLoader.Load(policy.SourcePath) : null;
        if (_config.Lora is { } lora) LoraAdapters.Apply(policy.Model, lora);
        int pairs = 0;
        var checkpoints = new List<CheckpointScore>();
        var snapshots = new List<TrainableSnapshot>();
        int? selected = null;
        void Checkpoint(int step, IReadOnlyDictionary<string, double> metrics)
        {
            Record(step, metrics);
            if (selection is null || ((step + 1) % selection.EveryNSteps != 0 && step + 1 != _config.Rl.MaxSteps)) return;
            var score = CheckpointSelection.Score(step, policy, validation!, selection.MaxNewTokens, stops);
            checkpoints.Add(score);
            snapshots.Add(new TrainableSnapshot(policy.Model));
            var m = new Dictionary<string, double> { ["validation/harmful"] = score.Harmful.Rate, ["validation/over_refusal"] = score.OverRefusal.Rate };
            store?.AppendMetrics(runId!, ValidationPhase, step, m);
            if (CheckpointSelection.Final(score, selection.MaxHarmfulRate)) throw new SelectionSettled();
        }
        try
        {
            if (_config.Method == PolicyRepairMethod.Dpo)
            {
                var data = RankedPairs(policy, rewardModel, prompts, textOf, stops);
                pairs = data.Count;
                if (data.Count == 0) throw new InvalidOperationException($"the RM scored all {_config.DpoSamplesPerPrompt} samples of every prompt alike: no DPO preference pairs");
                using var trainer = new DpoTrainer(policy.Model, _config.Dpo, reference?.Model);
                trainer.Train(data, Record);
            }
            else
            {
                using var trainer = new PolicyRlTrainer(policy.Model, _config.EffectiveRl(stops), reference?.Model);
                try { trainer.Train(prompts, batch => Rewards(policy, rewardModel, batch, textOf), Checkpoint); }
                catch (SelectionSettled) { }
            }
            if (checkpoints.Count > 0)
            {
                int best = CheckpointSelection.Select(checkpoints, selection!.MaxHarmfulRate);
                snapshots[best].Restore();
                selected = checkpoints[best].Step;
            }
        }
        finally
        {
            foreach (var s in snapshots) s.Dispose();
            if (_config.Lora is not null) LoraAdapters.Merge(policy.Model);
        }
        if (outputDir is not null) HfModelSaver.Save(policy, outputDir);
        return new PolicyRepairResult(_config.Method, mix.Count(p => p.Kind == RepairPrompt.Adversarial), mix.Count(p => p.Kind == RepairPrompt.Benign),
            steps, last, pairs, outputDir)
        { Checkpoints = checkpoints, SelectedStep = selected };
    }

    /// <summary>The RM's score of each (prompt, completion): completions are decoded without their stop token.</summary>
    static IReadOnlyList<double> Rewards(LoadedModel policy, IRewardModel rm, IReadOnlyList<(int[] Prompt, int[] Completion)> batch, Dictionary<int[], string> textOf)
    {
        var exchanges = batch.Select(b => new Exchange(textOf[b.Prompt], policy.Tokenizer.Decode(b.Completion, skipSpecialTokens: true))).ToList();
        var scores = rm.Score(exchanges);
        if (scores.Count != exchanges.Count) throw new InvalidOperationException($"reward model {rm.Identity} returned {scores.Count} scores for {exchanges.Count} exchanges");
        return scores;
    }

    /// <summary>
    /// k sampled completions per distinct prompt, scored by the RM; chosen = best, rejected = worst (pairs
    /// with a gap under DpoMinScoreGap are dropped). Completions keep their stop token, so DPO also learns where to end.
    /// </summary>
    List<PreferenceExample> RankedPairs(LoadedModel policy, IRewardModel rm, IReadOnlyList<int[]> prompts, Dictionary<int[], string> textOf, IReadOnlySet<int> stops)
    {
        int k = _config.DpoSamplesPerPrompt;
        var distinct = prompts.Distinct().ToList();
        var generator = new TextGenerator(policy.Model, policy.Tokenizer);
        var result = new List<PreferenceExample>();
        int batch = Math.Max(1, 32 / k);
        for (int start = 0, b = 0; start < distinct.Count; start += batch, b++)
        {
            var chunk = distinct.Skip(start).Take(batch).ToList();
            var rows = chunk.SelectMany(p => Enumerable.Repeat(p, k)).ToList();
            var generated = generator.Generate(rows, new GenerationOptions
            {
                MaxNewTokens = _config.DpoMaxNewTokens, Temperature = _config.DpoTemperature, StopIds = stops, Seed = unchecked(_config.Seed * 1_000_003 + b),
            });
            var scores = rm.Score(rows.Select((p, i) => new Exchange(textOf[p], generated[i].Text)).ToList());
            for (int g = 0; g < chunk.Count; g++)
            {
                var idx = Enumerable.Range(g * k, k).Where(i => generated[i].TokenIds.Length > 0).ToList();
                if (idx.Count < 2) continue;
                int best = idx.MaxBy(i => scores[i]), worst = idx.MinBy(i => scores[i]);
                if (scores[best] - scores[worst] < _config.DpoMinScoreGap) continue;
                result.Add(new PreferenceExample(chunk[g], generated[best].TokenIds, generated[worst].TokenIds));
            }
        }
        return result;
    }

    /// <summary>The tokenizer's end-of-turn ids plus generation_config's eos ids, as <c>LocalChatModel</c> stops.</summary>
    internal static IReadOnlySet<int> StopIds(LoadedModel policy)
    {
        var stops = new HashSet<int>(policy.Tokenizer.StopIds);
        stops.UnionWith(policy.GenerationDefaults?.EosTokenIds ?? []);
        if (stops.Count == 0) throw new ArgumentException($"{policy.SourcePath}: the tokenizer names no stop ids, so completions could not end");
        return stops;
    }

    /// <summary>Ends RL early: the checkpoint just scored is the one selection would keep, whatever follows (<see cref="CheckpointSelection.Final"/>).</summary>
    sealed class SelectionSettled : Exception;

    static string Short(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
