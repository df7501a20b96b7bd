using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Models.Loading;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Rewards;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Repair;

/// <summary>One discovery of a repair-rounds run: d0 probes the models as given, dk the models after round k.</summary>
internal sealed record RoundDiscovery(int Index, string RunId, string PolicyPath, string RewardPath, TaxonomyReport Report, bool Resumed)
{
    public Proportion Systemic => Report.Overall[FailureClass.Systemic];
}

internal sealed record RepairRoundsResult(IReadOnlyList<RoundDiscovery> Discoveries, int RoundsRepaired, string StopReason,
    string OutDir, string StorePath, string? FinalPolicyDir, string? FinalRewardDir);

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
        Directory.CreateDirectory(c.OutDir);
        CheckResume(c, resume);
        var probe = c.Probe;
        IRepairWorld? World(ModelSpec spec) => spec is SandboxModelSpec s ? sandbox(s.World) : null;
        var policyWorld = World(probe.Policy);
        var rewardWorld = World(probe.RewardModel);
        var benign = c.BenignPromptsPath is { } bp ? CapabilityEvaluation.ReadPrompts(bp) : policyWorld!.BenignPrompts();
        var retention = c.RetentionPairsPath is { } rp ? RepairPreferences.ReadPairs(rp) : rewardWorld!.RetentionPairs();
        string policyChat = (probe.Policy as LocalModelSpec)?.ChatFormat ?? "";
        string rewardChat = (probe.RewardModel as LocalModelSpec)?.ChatFormat ?? "";
        string policyPath = policyWorld?.PolicyDir ?? ((LocalModelSpec)probe.Policy).Path;
        string rewardPath = rewardWorld?.RewardDir ?? ((LocalModelSpec)probe.RewardModel).Path;

        var discoveries = new List<RoundDiscovery>();
        var found = new List<ProbeCase>();
        string stop = $"all {c.Rounds} rounds done";
        int repaired = 0;
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
            var d = new RoundDiscovery(k, config.RunId, policyPath, rewardPath, result.Report, exists);
            discoveries.Add(d);
            WriteSummary(c, discoveries, repaired, null);
            found.AddRange(result.Cases.Where(x => x.Components.Tactic != c.HeldOutTactic));

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
            using (var store = RunStore.Open(probe.StorePath))
            {
                if (!StageDone(rmOut))
                {
                    store.DeleteMetrics(config.RunId, RewardRepair.MetricPhase);
                    using var rm = ModelLoader.Load(rewardPath, new LoadOptions { ChatFormat = NullIfEmpty(rewardChat) });
                    RewardRepair.Run(rm, found, retention, rmOut, c.Reward,
                        (step, m) => progress?.Invoke(StageProgress.Training($"round {k + 1}: repair reward model", step, c.Reward.Training.MaxSteps, m)), store, config.RunId);
                    MarkDone(rmOut);
                }
                if (!StageDone(policyOut))
                {
                    store.DeleteMetrics(config.RunId, PolicyRepair.MetricsPhase);
                    using var policy = ModelLoader.Load(policyPath, new LoadOptions { ChatFormat = NullIfEmpty(policyChat) });
                    using var repairedRm = LocalRewardModel.Load(rmOut, new LoadOptions { ChatFormat = NullIfEmpty(rewardChat) });
                    int steps = c.Policy.Method == PolicyRepairMethod.Dpo ? c.Policy.Dpo.MaxSteps : c.Policy.Rl.MaxSteps;
                    new PolicyRepair(c.Policy).Run(policy, repairedRm, PolicyRepair.AdversarialPrompts(found), benign, policyOut,
                        (step, m) => progress?.Invoke(StageProgress.Training($"round {k + 1}: repair policy", step, steps, m)), store, config.RunId);
                    MarkDone(policyOut);
                }
            }
            (policyPath, rewardPath, repaired) = (policyOut, rmOut, k + 1);
        }
        WriteSummary(c, discoveries, repaired, stop);
        return new RepairRoundsResult(discoveries, repaired, stop, c.OutDir, probe.StorePath,
            repaired > 0 ? policyPath : null, repaired > 0 ? rewardPath : null);
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

    static void WriteSummary(RepairRoundsConfig c, IReadOnlyList<RoundDiscovery> discoveries, int repaired, string? stop)
    {
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
            ["rounds_repaired"] = repaired, ["stopped"] = stop, ["store"] = c.Probe.StorePath, ["discoveries"] = rows,
        };
        var path = Path.Combine(c.OutDir, SummaryFile);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(summary, SnakeCaseJson.Options));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
