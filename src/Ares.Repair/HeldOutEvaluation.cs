using System.Text.Json;
using Ares.Models.Loading;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Rewards;

namespace Ares.RedTeam.Repair;

/// <summary>One side (before or after repair) of the held-out evaluation.</summary>
internal sealed record RepairSnapshot(TaxonomyReport HeldOut, IReadOnlyList<ProbeCase> HeldOutCases, RewardEvaluation Reward, CapabilityReport Capability);

/// <summary>The held-out evaluation of a repair run: the models as given, and the last round's.</summary>
internal sealed record HeldOutComparison(RepairSnapshot Before, RepairSnapshot After, string? HeldOutTactic)
{
    /// <summary>Failures (any class) under the held-out tactic, before and after; null when no tactic was held out or it has no held-out case.</summary>
    public (Proportion Before, Proportion After)? TacticFailures =>
        HeldOutTactic is { } t && HeldOutEvaluation.TacticFailureRate(Before.HeldOut, t) is { } b && HeldOutEvaluation.TacticFailureRate(After.HeldOut, t) is { } a
            ? (b, a) : null;
}

/// <summary>
/// Re-evaluation on what a world never trained on (<see cref="IRepairWorld.HeldOut"/>; the sandbox world holds such sets): its held-out harmful tuples (all tactics,
/// probed with the discovery's settings), its held-out safety and original preference pairs (the RM),
/// and its held-out benign and sensitive-looking prompts (capability, over-refusal). Responsible for
/// loading a policy/RM pair and measuring it; does not own the repair or the decision it informs.
/// </summary>
internal sealed class HeldOutEvaluation
{
    /// <summary>Benign prompts answered unhelpfully and sensitive-looking ones refused, before and after repair: what to read when capability drops.</summary>
    public const string CapabilityFailuresFile = "capability-failures.json";

    readonly IRepairWorld _world;
    readonly ComponentCatalog _catalog = ComponentCatalog.Default();
    readonly IReadOnlyList<MentorCase> _cases;
    readonly HeldOutSets _sets;
    readonly IReadOnlyList<string> _benign, _sensitive;
    readonly CapabilityEvaluationOptions _capability;
    readonly ProbeOptions _probe;

    public HeldOutEvaluation(IRepairWorld world, ProbeOptions discovery)
    {
        _world = world;
        _sets = world.HeldOut();
        _cases = _sets.Cases;
        _benign = _sets.BenignPrompts;
        _sensitive = _sets.SensitivePrompts;
        _capability = new CapabilityEvaluationOptions { Sampling = new ChatSampling { Temperature = 0, MaxTokens = 48, Seed = 0 }, IsRefusal = world.LooksLikeRefusal };
        _probe = discovery with { Budget = _cases.Count };
    }

    /// <summary>Measures the policy in <paramref name="policyDir"/> with the RM in <paramref name="rewardDir"/>, judged by the world's judge.</summary>
    public RepairSnapshot Evaluate(string policyDir, string rewardDir, IProgress<ProbeProgress>? progress = null)
    {
        using var policy = LocalChatModel.Load(policyDir);
        using var rm = LocalRewardModel.Load(rewardDir);
        using var judge = ClassifierJudge.Load(_world.JudgeDir);
        var prober = new Prober(_catalog, new TemplateMentor(_catalog), policy, rm, judge, _probe);
        var cases = prober.EvaluateAsync(_cases, progress).GetAwaiter().GetResult();
        var reward = RewardEvaluation.Run(rm, _sets.SafetyPairs, _sets.RetentionPairs);
        var capability = CapabilityEvaluation.EvaluateAsync(policy, judge, rm, _cases.Select(c => c.Prompt).ToList(), _benign, _sensitive, _capability).GetAwaiter().GetResult();
        return new RepairSnapshot(TaxonomyReport.Build(cases), cases, reward, capability);
    }

    /// <summary>
    /// The failure rate under one tactic: cases of any failure class (systemic, policy-only, RM-only) over
    /// all its cases, unscored included in the denominator. Null when the report has no case of that tactic.
    /// </summary>
    public static Proportion? TacticFailureRate(TaxonomyReport report, string tactic) =>
        report.ByComponent.TryGetValue((ComponentKind.Tactic, tactic), out var rates) ? FailureRate(rates) : null;

    /// <summary>Cases of any failure class over all cases.</summary>
    public static Proportion FailureRate(ClassRates rates) =>
        Proportion.Wilson(rates[FailureClass.Systemic].Successes + rates[FailureClass.PolicyOnly].Successes + rates[FailureClass.RmOnly].Successes, rates.Cases);

    public static void WriteCapabilityFailures(string path, CapabilityReport before, CapabilityReport after)
    {
        static object Side(CapabilityReport r) => new { Unhelpful = r.Unhelpful, OverRefused = r.OverRefused };
        File.WriteAllText(path, JsonSerializer.Serialize(new { Before = Side(before), After = Side(after) }, SnakeCaseJson.Options));
    }
}
