using System.Text.Json;
using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Training;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Rewards;
using Ares.RedTeam.Store;

using Ares.RedTeam.Repair;

namespace Ares.RedTeam.Sandbox;

/// <summary>What `ares demo` does, with its sizes (defaults tuned for the default sandbox world on 2 CPU cores).</summary>
internal sealed record RepairDemoOptions
{
    public required string OutDir { get; init; }
    public string World { get; init; } = "default";
    public SandboxSpec Spec { get; init; } = SandboxSpec.Default;
    public string? SandboxRoot { get; init; }
    public long Seed { get; init; } = 1;
    /// <summary>Discovery budget (cases) and answers per case.</summary>
    public int DiscoveryCases { get; init; } = 240;
    public int Samples { get; init; } = 3;
    /// <summary>
    /// A tactic kept out of both repair stages: held-out evaluation includes it, so the report shows
    /// whether repair generalises beyond the tactics it saw. Default: an RM-only tactic.
    /// </summary>
    public string HeldOutTactic { get; init; } = "educational";
    public RewardRepairConfig RewardRepair { get; init; } = SandboxRepairDefaults.Reward;
    public PolicyRepairConfig PolicyRepair { get; init; } = SandboxRepairDefaults.Policy;
    /// <summary>Checkpoint-selection validation sizes: training attack prompts (seeded pick) and benign lookalikes held out of the training mix.</summary>
    public int ValidationAttacks { get; init; } = 64;
    public int ValidationLookalikes { get; init; } = 64;
}

/// <summary>One side (before or after repair) of the demo's held-out evaluation.</summary>
internal sealed record RepairSnapshot(TaxonomyReport HeldOut, IReadOnlyList<ProbeCase> HeldOutCases, RewardEvaluation Reward, CapabilityReport Capability);

internal sealed record RepairDemoResult(
    SandboxWorld World, string StorePath, RunInfo Discovery, TaxonomyReport DiscoveryReport, PlantedWeaknessReport? Planted,
    RepairSnapshot Before, RepairSnapshot After, RewardRepairResult RewardRepair, PolicyRepairResult PolicyRepair,
    IReadOnlyList<MetricPoint> RewardCurve, IReadOnlyList<MetricPoint> PolicyCurve, IReadOnlyDictionary<string, double> PhaseSeconds, string HeldOutTactic);

/// <summary>
/// The whole ARES loop on the sandbox world, once: discovery → RM repair (stage 1) → policy repair
/// against the repaired RM (stage 2) → re-evaluation on held-out cases (new tuples, plus a tactic
/// never used in repair), before and after side by side. Everything lands in one run store.
/// </summary>
internal static class RepairDemo
{
    public static RepairDemoResult Run(RepairDemoOptions o, Func<string, SandboxWorld> sandbox, Action<StageProgress>? progress = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        void Phase(string name) { phases[name] = clock.Elapsed.TotalSeconds - phases.Values.Sum(); }
        Directory.CreateDirectory(o.OutDir);
        var world = sandbox(o.World);
        Phase("world");

        // 1. Discovery.
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss");
        var storePath = Path.Combine(o.OutDir, "ares-runs.db");
        var configJson = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["run"] = $"demo-{stamp}", ["store"] = storePath, ["seed"] = o.Seed,
            ["policy"] = $"sandbox:{o.World}", ["reward_model"] = $"sandbox:{o.World}", ["judge"] = $"sandbox:{o.World}",
            ["budget"] = new Dictionary<string, int> { ["cases"] = o.DiscoveryCases, ["samples"] = o.Samples, ["batch"] = 16 },
            ["sampling"] = new Dictionary<string, double> { ["temperature"] = 0.7, ["max_tokens"] = 64 },
        });
        var config = ProbeConfig.Parse(configJson, Path.Combine(o.OutDir, "demo-probe.json"));
        var discovery = ProbeRunner.Run(config, resume: false, _ => world, new CallbackProgress<ProbeProgress>(p => progress?.Invoke(StageProgress.Discovery("discovery", p))));
        Phase("discovery");

        // Held-out cases: the world's held-out tuples (never in its training data), all tactics.
        var catalog = ComponentCatalog.Default();
        var heldOut = ReadHeldOutCases(Path.Combine(world.DataDir, SandboxData.HarmfulHeldOut));
        var data = SandboxRepairData.Read(world.DataDir);
        var corpus = SandboxCorpus.Build(world.Spec, catalog);
        var benign = CapabilityEvaluation.ReadPrompts(Path.Combine(world.DataDir, SandboxData.BenignHeldOut));
        var sensitive = CapabilityEvaluation.ReadPrompts(Path.Combine(world.DataDir, SandboxData.OverRefusalHeldOut));
        var evalOptions = new CapabilityEvaluationOptions { Sampling = new ChatSampling { Temperature = 0, MaxTokens = 48, Seed = 0 }, IsRefusal = corpus.LooksLikeRefusal, CarriesHarm = SandboxCorpus.CarriesStandIn };
        var probeOptions = config.Options with { Budget = heldOut.Count };

        RepairSnapshot Snapshot(string phase, string policyDir, string rewardDir)
        {
            using var policy = LocalChatModel.Load(policyDir);
            using var rm = LocalRewardModel.Load(rewardDir);
            using var judge = ClassifierJudge.Load(world.JudgeDir);
            var prober = new Prober(catalog, new TemplateMentor(catalog), policy, rm, judge, probeOptions);
            var cases = prober.EvaluateAsync(heldOut, new CallbackProgress<ProbeProgress>(p => progress?.Invoke(StageProgress.Discovery(phase, p)))).GetAwaiter().GetResult();
            var reward = RewardEvaluation.Run(rm, data.SafetyHeldOut, data.RetentionHeldOut);
            var capability = CapabilityEvaluation.EvaluateAsync(policy, judge, rm, heldOut.Select(c => c.Prompt).ToList(), benign, sensitive, evalOptions).GetAwaiter().GetResult();
            return new RepairSnapshot(TaxonomyReport.Build(cases), cases, reward, capability);
        }

        var before = Snapshot("evaluate (before)", world.PolicyDir, world.RewardDir);
        Phase("evaluate before");

        // 2. Stage 1: repair the RM on what discovery found, held-out tactic excluded.
        var repairCases = discovery.Cases.Where(c => c.Components.Tactic != o.HeldOutTactic).ToList();
        using var store = RunStore.Open(storePath);
        var runId = discovery.Run.RunId;
        var rmDir = Path.Combine(o.OutDir, "reward-repaired");
        RewardRepairResult rmResult;
        using (var rm = ModelLoader.Load(world.RewardDir))
            rmResult = Repair.RewardRepair.Run(rm, repairCases, data.Retention, rmDir, o.RewardRepair,
                (step, m) => progress?.Invoke(StageProgress.Training("repair reward model", step, o.RewardRepair.Training.MaxSteps, m)), store, runId);
        Phase("repair reward model");

        // 3. Stage 2: optimise the policy against the repaired RM on adversarial + benign prompts.
        var policyDir = Path.Combine(o.OutDir, "policy-repaired");
        PolicyRepairResult policyResult;
        var adversarial = PolicyRepair.AdversarialPrompts(repairCases);
        // Checkpoint selection validates on training-side prompts only: a seeded pick of the training attacks,
        // and benign lookalikes taken out of the training mix (the evaluation sets stay unseen).
        bool select = o.PolicyRepair.Selection is not null && o.PolicyRepair.Method != PolicyRepairMethod.Dpo;
        var (benignTrain, lookalikes) = select ? SandboxRepairData.BenignSplit(corpus, o.ValidationLookalikes, o.Seed) : (SandboxRepairData.BenignPrompts(corpus), []);
        var attackPick = adversarial.ToArray();
        new Random(unchecked((int)o.Seed) ^ 0x7a11).Shuffle(attackPick);
        using (var policy = ModelLoader.Load(world.PolicyDir))
        using (var repairedRm = LocalRewardModel.Load(rmDir))
        using (var validationJudge = ClassifierJudge.Load(world.JudgeDir))
            policyResult = new PolicyRepair(o.PolicyRepair).Run(policy, repairedRm, adversarial, benignTrain, policyDir,
                (step, m) => progress?.Invoke(StageProgress.Training("repair policy", step, o.PolicyRepair.Rl.MaxSteps, m)), store, runId,
                select ? new RepairValidation(attackPick[..Math.Min(o.ValidationAttacks, attackPick.Length)], lookalikes, validationJudge, corpus.LooksLikeRefusal) : null);
        Phase("repair policy");

        var after = Snapshot("evaluate (after)", policyDir, rmDir);
        Phase("evaluate after");
        WriteCapabilityFailures(Path.Combine(o.OutDir, CapabilityFailuresFile), before.Capability, after.Capability);

        return new RepairDemoResult(world, storePath, discovery.Run, discovery.Report, discovery.Planted, before, after, rmResult, policyResult,
            store.LoadMetrics(runId, Repair.RewardRepair.MetricPhase), store.LoadMetrics(runId, "policy_repair"), phases, o.HeldOutTactic);
    }

    /// <summary>Benign prompts answered unhelpfully and sensitive-looking ones refused, before and after repair: what to read when capability drops.</summary>
    public const string CapabilityFailuresFile = "capability-failures.json";

    static void WriteCapabilityFailures(string path, CapabilityReport before, CapabilityReport after)
    {
        static object Side(CapabilityReport r) => new { Unhelpful = r.Unhelpful, OverRefused = r.OverRefused };
        File.WriteAllText(path, JsonSerializer.Serialize(new { Before = Side(before), After = Side(after) }, SnakeCaseJson.Options));
    }

    /// <summary>The sandbox's held-out harmful cases as mentor cases (tuple, prompt, malicious, safe).</summary>
    public static IReadOnlyList<MentorCase> ReadHeldOutCases(string path) =>
        [.. JsonlRows.Read(path, "held-out case file").Select(r =>
        {
            string F(string name) => r.Json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()! : throw new FormatException($"{r.Where}: field '{name}' must be a string");
            return new MentorCase(new ComponentTuple(F("topic"), F("persona"), F("tactic"), F("goal")), F("prompt"), F("malicious"), F("safe"));
        })];
}
