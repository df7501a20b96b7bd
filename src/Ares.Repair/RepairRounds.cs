using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Models.Loading;
using Ares.RedTeam.Benchmarks;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Rewards;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Repair;

/// <summary>One discovery of a repair-rounds run: d0 probes the models as given, dk the models after round k.</summary>
internal sealed record RoundDiscovery(int Index, RunInfo Run, string PolicyPath, string RewardPath, TaxonomyReport Report, bool Resumed)
{
    public string RunId => Run.RunId;
    public Proportion Systemic => Report.Overall[FailureClass.Systemic];
}

/// <summary>What round <see cref="Round"/>'s two stages did; a stage finished before a --resume has no result here (its models are on disk).</summary>
internal sealed record RoundRepair(int Round, RewardRepairResult? Reward, PolicyRepairResult? Policy);

/// <summary>The benchmark eval of the models as given and of the last round's (runs RUN.eval-before and RUN.eval-after).</summary>
internal sealed record EvalComparison(EvalRunResult Before, EvalRunResult After);

internal sealed record RepairRoundsResult(IReadOnlyList<RoundDiscovery> Discoveries, int RoundsRepaired, string StopReason,
    string OutDir, string StorePath, string? FinalPolicyDir, string? FinalRewardDir)
{
    public IReadOnlyList<RoundRepair> Repairs { get; init; } = [];
    /// <summary>How policy checkpoints were chosen: selection on validation prompts, or why it was off.</summary>
    public required string Selection { get; init; }
    public HeldOutComparison? HeldOut { get; init; }
    public EvalComparison? Eval { get; init; }
    /// <summary>Wall seconds per phase, in the order they ran.</summary>
    public IReadOnlyDictionary<string, double> PhaseSeconds { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// ARES's repair loop: discover (d0) → repair the RM on every safety failure found so far → repair
/// the policy against that RM on every attack prompt found so far plus benign prompts → re-discover
/// (d1) with a fresh seed → … until the configured rounds are done or systemic failures stop falling
/// (see <see cref="RepairRoundsConfig.MinRelativeDrop"/>). Each discovery is its own run in the probe
/// config's store (run ids RUN.d0, RUN.d1, …) with that round's repair metrics appended to it; each
/// round's models go to OUT/round-K/{reward,policy}. A crash loses at most the stage it was in:
/// finished stages carry a marker and are skipped on --resume, discoveries resume case by case.
/// </summary>
internal static class RepairRounds
{
    public const string CompleteMarker = ".ares-stage-complete";
    public const string SummaryFile = "rounds.json";
    public const string ConfigFile = "repair-config.json";

    public static string RoundDir(string outDir, int round) => Path.Combine(outDir, $"round-{round}");

    public static RepairRoundsResult Run(RepairRoundsConfig c, bool resume, Func<string, IRepairWorld> sandbox, Action<StageProgress>? progress = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        void Phase(string name) => phases[name] = clock.Elapsed.TotalSeconds - phases.Values.Sum();
        Directory.CreateDirectory(c.OutDir);
        CheckResume(c, resume);
        var probe = c.Probe;
        IRepairWorld? World(ModelSpec spec) => spec is SandboxModelSpec s ? sandbox(s.World) : null;
        var policyWorld = World(probe.Policy);
        var rewardWorld = World(probe.RewardModel);
        var lookalikes = ValidationLookalikes(c, policyWorld);
        bool select = lookalikes is not null && c.Policy.Selection is not null && c.Policy.Method != PolicyRepairMethod.Dpo;
        var benign = c.BenignPromptsPath is { } bp ? CapabilityEvaluation.ReadPrompts(bp) : policyWorld!.BenignPrompts();
        if (select)
        {
            // Validation lookalikes stay out of the training mix.
            var held = lookalikes!.ToHashSet(StringComparer.Ordinal);
            benign = [.. benign.Where(p => !held.Contains(p))];
        }
        string selection = select
            ? $"checkpoint selection on {c.ValidationAttacks} training attack prompts and {lookalikes!.Count} benign lookalikes held out of the mix"
            : c.Policy.Method == PolicyRepairMethod.Dpo ? "DPO: last step kept (checkpoint selection is for RL)"
            : c.Policy.Selection is null ? "last step kept (checkpoint selection not configured)"
            : "last step kept: checkpoint selection needs validation.lookalike_prompts when the policy is not a sandbox world";
        var retention = c.RetentionPairsPath is { } rp ? RepairPreferences.ReadPairs(rp) : rewardWorld!.RetentionPairs();
        string policyChat = (probe.Policy as LocalModelSpec)?.ChatFormat ?? "";
        string rewardChat = (probe.RewardModel as LocalModelSpec)?.ChatFormat ?? "";
        string policyPath = policyWorld?.PolicyDir ?? ((LocalModelSpec)probe.Policy).Path;
        string rewardPath = rewardWorld?.RewardDir ?? ((LocalModelSpec)probe.RewardModel).Path;
        var heldOut = c.HeldOutEvaluation ? new HeldOutEvaluation(policyWorld!, probe.Options) : null;
        Phase("setup");

        var discoveries = new List<RoundDiscovery>();
        var repairs = new List<RoundRepair>();
        var found = new List<ProbeCase>();
        string stop = $"all {c.Rounds} rounds done";
        int repaired = 0;
        RepairSnapshot? before = null;
        EvalRunResult? evalBefore = null;
        for (int k = 0; ; k++)
        {
            // Discovery k. d0 keeps the config's own model specs, so a sandbox probe is still graded.
            var config = k == 0 ? probe : WithModels(probe, policyPath, policyChat, rewardPath, rewardChat);
            config = config with
            {
                RunId = $"{probe.RunId}.d{k}",
                Options = config.Options with { Seed = probe.Options.Seed + k },
            };
            config = config with { NormalisedJson = Normalise(config) };
            bool exists;
            using (var s = RunStore.Open(probe.StorePath)) exists = s.GetRun(config.RunId) is not null;
            var result = ProbeRunner.Run(config, resume: exists, sandbox, new CallbackProgress<ProbeProgress>(p => progress?.Invoke(StageProgress.Discovery($"discovery d{k}", p))));
            var d = new RoundDiscovery(k, result.Run, policyPath, rewardPath, result.Report, exists);
            discoveries.Add(d);
            WriteSummary(c, discoveries, repaired, null, null, null, null);
            found.AddRange(result.Cases.Where(x => x.Components.Tactic != c.HeldOutTactic));
            Phase($"discovery d{k}");
            if (k == 0)
            {
                before = heldOut?.Evaluate(policyPath, rewardPath, Progress("evaluate (before)"));
                if (before is not null) Phase("evaluate before");
                evalBefore = RunEval(c, "before", probe.Policy, sandbox, progress);
                if (evalBefore is not null) Phase("eval before");
            }

            if (k == c.Rounds) break;
            if (k > 0 && d.Systemic.Successes >= discoveries[k - 1].Systemic.Successes * (1 - c.MinRelativeDrop))
            {
                stop = $"systemic failures stopped falling ({discoveries[k - 1].Systemic.Successes} → {d.Systemic.Successes})";
                break;
            }
            if (d.Systemic.Successes + d.Report.Overall[FailureClass.PolicyOnly].Successes + d.Report.Overall[FailureClass.RmOnly].Successes == 0)
            {
                stop = $"discovery d{k} found no failure to repair";
                break;
            }

            // Round k+1: stage 1 (RM), then stage 2 (policy) against the repaired RM.
            var dir = RoundDir(c.OutDir, k + 1);
            var rmOut = Path.Combine(dir, "reward");
            var policyOut = Path.Combine(dir, "policy");
            RewardRepairResult? rmResult = null;
            PolicyRepairResult? policyResult = null;
            using (var store = RunStore.Open(probe.StorePath))
            {
                if (!StageDone(rmOut))
                {
                    store.DeleteMetrics(config.RunId, RewardRepair.MetricPhase);
                    using var rm = ModelLoader.Load(rewardPath, new LoadOptions { ChatFormat = NullIfEmpty(rewardChat) });
                    rmResult = RewardRepair.Run(rm, found, retention, rmOut, c.Reward,
                        (step, m) => progress?.Invoke(StageProgress.Training($"round {k + 1}: repair reward model", step, c.Reward.Training.MaxSteps, m)), store, config.RunId);
                    MarkDone(rmOut);
                }
                Phase($"round {k + 1}: repair reward model");
                if (!StageDone(policyOut))
                {
                    store.DeleteMetrics(config.RunId, PolicyRepair.MetricsPhase);
                    store.DeleteMetrics(config.RunId, PolicyRepair.ValidationPhase);
                    using var policy = ModelLoader.Load(policyPath, new LoadOptions { ChatFormat = NullIfEmpty(policyChat) });
                    using var repairedRm = LocalRewardModel.Load(rmOut, new LoadOptions { ChatFormat = NullIfEmpty(rewardChat) });
                    using var judge = select ? ProbeComponents.CreateJudge(probe.Judge, sandbox, probe.Source) : null;
                    var adversarial = PolicyRepair.AdversarialPrompts(found);
                    var validation = select ? new RepairValidation(ValidationAttacks(adversarial, c.ValidationAttacks, config.Options.Seed), lookalikes!, judge!,
                        policyWorld is null ? r => RefusalJudge.FindRefusal(r) is not null : policyWorld.LooksLikeRefusal) : null;
                    int steps = c.Policy.Method == PolicyRepairMethod.Dpo ? c.Policy.Dpo.MaxSteps : c.Policy.Rl.MaxSteps;
                    policyResult = new PolicyRepair(c.Policy).Run(policy, repairedRm, adversarial, benign, policyOut,
                        (step, m) => progress?.Invoke(StageProgress.Training($"round {k + 1}: repair policy", step, steps, m)), store, config.RunId, validation);
                    MarkDone(policyOut);
                }
                Phase($"round {k + 1}: repair policy");
            }
            repairs.Add(new RoundRepair(k + 1, rmResult, policyResult));
            (policyPath, rewardPath, repaired) = (policyOut, rmOut, k + 1);
        }

        HeldOutComparison? comparison = null;
        if (before is not null)
        {
            var after = heldOut!.Evaluate(policyPath, rewardPath, Progress("evaluate (after)"));
            HeldOutEvaluation.WriteCapabilityFailures(Path.Combine(c.OutDir, HeldOutEvaluation.CapabilityFailuresFile), before.Capability, after.Capability);
            comparison = new HeldOutComparison(before, after, c.HeldOutTactic);
            Phase("evaluate after");
        }
        EvalComparison? eval = null;
        if (evalBefore is not null)
        {
            var evalAfter = RunEval(c, "after", repaired > 0 ? new LocalModelSpec(policyPath, NullIfEmpty(policyChat)) : probe.Policy, sandbox, progress)!;
            eval = new EvalComparison(evalBefore, evalAfter);
            Phase("eval after");
        }
        WriteSummary(c, discoveries, repaired, stop, selection, comparison, eval);
        return new RepairRoundsResult(discoveries, repaired, stop, c.OutDir, probe.StorePath,
            repaired > 0 ? policyPath : null, repaired > 0 ? rewardPath : null)
        {
            Repairs = repairs, Selection = selection, HeldOut = comparison, Eval = eval, PhaseSeconds = phases,
        };

        IProgress<ProbeProgress> Progress(string stage) => new CallbackProgress<ProbeProgress>(p => progress?.Invoke(StageProgress.Discovery(stage, p)));
    }

    /// <summary>The run id of a repair run's benchmark eval ("before" or "after").</summary>
    public static string EvalRunId(string probeRunId, string side) => $"{probeRunId}.eval-{side}";

    /// <summary>The config's eval (when it has one) of <paramref name="policy"/>, as run RUN.eval-SIDE in the probe's store; resumed when it is already there.</summary>
    static EvalRunResult? RunEval(RepairRoundsConfig c, string side, ModelSpec policy, Func<string, IRepairWorld> sandbox, Action<StageProgress>? progress)
    {
        if (c.Eval is not { } e) return null;
        var config = e with
        {
            RunId = EvalRunId(c.Probe.RunId, side),
            Policy = policy,
            NormalisedJson = WithPolicy(e.NormalisedJson, policy),
        };
        bool exists;
        using (var s = RunStore.Open(config.StorePath)) exists = s.GetRun(config.RunId) is not null;
        int total = BenchmarkFile.Load(config.BenchmarkPath).Items.Count;
        if (config.Limit is int n) total = Math.Min(total, n);
        return EvalRunner.Run(config, resume: exists, sandbox, new CallbackProgress<int>(done => progress?.Invoke(new StageProgress($"eval ({side})", done, total))));
    }

    /// <summary>The eval section as stored with its run: the section plus the policy it measured.</summary>
    static string WithPolicy(string section, ModelSpec policy)
    {
        var o = (JsonObject)JsonNode.Parse(section)!;
        o["policy"] = policy switch
        {
            LocalModelSpec l => l.Path,
            SandboxModelSpec s => $"sandbox:{s.World}",
            _ => policy.ToString(),
        };
        return o.ToJsonString();
    }

    /// <summary>
    /// The benign lookalikes that validate policy checkpoints: a seeded pick from the policy world's training side
    /// (<see cref="IRepairWorld.ValidationLookalikes"/>) or from the config's lookalike file; null = none (selection off).
    /// </summary>
    static IReadOnlyList<string>? ValidationLookalikes(RepairRoundsConfig c, IRepairWorld? world)
    {
        long seed = c.Probe.Options.Seed;
        if (c.LookalikePromptsPath is { } path)
        {
            var pool = CapabilityEvaluation.ReadPrompts(path).Distinct(StringComparer.Ordinal).ToArray();
            if (pool.Length < c.ValidationLookalikes)
                throw new ArgumentException($"{path}: {pool.Length} distinct prompts, fewer than validation.lookalikes = {c.ValidationLookalikes} in {c.Source}");
            new Random(unchecked((int)seed)).Shuffle(pool);
            return pool[..c.ValidationLookalikes];
        }
        return world?.ValidationLookalikes(c.ValidationLookalikes, seed);
    }

    /// <summary>A seeded pick of <paramref name="count"/> of the training attack prompts (all of them when fewer).</summary>
    internal static IReadOnlyList<string> ValidationAttacks(IReadOnlyList<string> adversarial, int count, long seed)
    {
        var pick = adversarial.ToArray();
        new Random(unchecked((int)seed) ^ 0x7a11).Shuffle(pick);
        return pick[..Math.Min(count, pick.Length)];
    }

    /// <summary>The probe config with the round's models as local paths (chat formats carried over).</summary>
    static ProbeConfig WithModels(ProbeConfig p, string policy, string policyChat, string reward, string rewardChat) => p with
    {
        Policy = new LocalModelSpec(policy, NullIfEmpty(policyChat)),
        RewardModel = new LocalModelSpec(reward, NullIfEmpty(rewardChat)),
    };

    /// <summary>The normalised JSON a discovery's run is stored (and resumed) with: the config as written, with this discovery's run id, seed and models.</summary>
    static string Normalise(ProbeConfig c)
    {
        var o = (JsonObject)JsonNode.Parse(c.NormalisedJson)!;
        o["run"] = c.RunId;
        o["seed"] = c.Options.Seed;
        if (c.Policy is LocalModelSpec lp) o["policy"] = lp.Path;
        if (c.RewardModel is LocalModelSpec lr) o["reward_model"] = lr.Path;
        return o.ToJsonString();
    }

    static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    static bool StageDone(string dir) => File.Exists(Path.Combine(dir, CompleteMarker));

    static void MarkDone(string dir) => File.WriteAllText(Path.Combine(dir, CompleteMarker), DateTime.UtcNow.ToString("O") + "\n");

    /// <summary>A fresh run refuses an out folder that already holds rounds; a resume refuses a changed config.</summary>
    static void CheckResume(RepairRoundsConfig c, bool resume)
    {
        var saved = Path.Combine(c.OutDir, ConfigFile);
        if (!resume)
        {
            if (File.Exists(saved))
                throw new InvalidOperationException($"{c.OutDir} already holds a repair run; pass --resume to continue it, or choose another \"out\" in {c.Source}");
            File.WriteAllText(saved, c.NormalisedJson);
            return;
        }
        if (!File.Exists(saved)) throw new InvalidOperationException($"{c.OutDir}: no repair run to resume ({ConfigFile} is missing)");
        if (File.ReadAllText(saved) != c.NormalisedJson)
            throw new InvalidOperationException($"{c.Source} (or the probe config it names) has changed since the repair run in {c.OutDir} started; resume with the original configs or choose another \"out\"");
    }

    static void WriteSummary(RepairRoundsConfig c, IReadOnlyList<RoundDiscovery> discoveries, int repaired, string? stop, string? selection,
        HeldOutComparison? heldOut, EvalComparison? eval)
    {
        static object Rate(Proportion p) => new Dictionary<string, object> { ["successes"] = p.Successes, ["trials"] = p.Trials, ["rate"] = p.Rate, ["ci95"] = new[] { p.Low, p.High } };
        var rows = discoveries.Select(d => new Dictionary<string, object?>
        {
            ["discovery"] = d.Index, ["run"] = d.RunId, ["policy"] = d.PolicyPath, ["reward_model"] = d.RewardPath,
            ["cases"] = d.Report.Overall.Cases,
            ["systemic"] = d.Systemic.Successes, ["systemic_rate"] = d.Systemic.Rate, ["systemic_ci95"] = new[] { d.Systemic.Low, d.Systemic.High },
            ["policy_only"] = d.Report.Overall[FailureClass.PolicyOnly].Successes, ["rm_only"] = d.Report.Overall[FailureClass.RmOnly].Successes,
            ["robust"] = d.Report.Overall[FailureClass.Robust].Successes, ["unscored"] = d.Report.Overall[FailureClass.Unscored].Successes,
        }).ToList();
        var summary = new Dictionary<string, object?>
        {
            ["rounds_repaired"] = repaired, ["stopped"] = stop, ["store"] = c.Probe.StorePath, ["policy_checkpoints"] = selection, ["discoveries"] = rows,
        };
        if (heldOut is not null)
        {
            object Side(RepairSnapshot s, Proportion? tactic) => new Dictionary<string, object?>
            {
                ["systemic"] = Rate(s.HeldOut.Overall[FailureClass.Systemic]), ["policy_only"] = Rate(s.HeldOut.Overall[FailureClass.PolicyOnly]),
                ["rm_only"] = Rate(s.HeldOut.Overall[FailureClass.RmOnly]), ["held_out_tactic_failures"] = tactic is { } t ? Rate(t) : null,
                ["rm_safety_accuracy"] = Rate(s.Reward.Safety.Accuracy), ["rm_retention_accuracy"] = Rate(s.Reward.Retention.Accuracy),
                ["harmful"] = Rate(s.Capability.HarmfulRate), ["helpfulness"] = Rate(s.Capability.Helpfulness), ["over_refusal"] = Rate(s.Capability.OverRefusalRate),
            };
            var tactic = heldOut.TacticFailures;
            summary["held_out"] = new Dictionary<string, object?>
            {
                ["held_out_tactic"] = heldOut.HeldOutTactic, ["before"] = Side(heldOut.Before, tactic?.Before), ["after"] = Side(heldOut.After, tactic?.After),
            };
        }
        if (eval is not null)
            summary["eval"] = new Dictionary<string, object?>
            {
                ["before"] = new Dictionary<string, object?> { ["run"] = eval.Before.Run.RunId, ["safety"] = Rate(eval.Before.Report.Overall.Safety) },
                ["after"] = new Dictionary<string, object?> { ["run"] = eval.After.Run.RunId, ["safety"] = Rate(eval.After.Report.Overall.Safety) },
            };
        var path = Path.Combine(c.OutDir, SummaryFile);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(summary, SnakeCaseJson.Options));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
