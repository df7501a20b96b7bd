using Ares.Models.Lora;
using Ares.Models.Training;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;

namespace Ares.Reporting.Tests;

/// <summary>
/// The `ares demo` pipeline end to end on the small sandbox world with small budgets: discovery,
/// both repair stages and re-evaluation run on real models, and the report renders in Chromium.
/// </summary>
public class DemoReportTests
{
    [Fact]
    public void The_demo_repairs_the_small_world_and_its_report_renders()
    {
        using var root = new TempDirectory();
        using var outDir = new TempDirectory();
        var world = SandboxWorld.Ensure("small", SandboxSpec.Small, root.Path);
        var phases = new HashSet<string>();
        var result = RepairDemo.Run(new RepairDemoOptions
        {
            OutDir = outDir.Path, World = "small", Spec = SandboxSpec.Small, SandboxRoot = root.Path, DiscoveryCases = 64, Samples = 2,
            RewardRepair = new RewardRepairConfig { Training = new RewardConfig { LearningRate = 1e-3, MaxSteps = 30, BatchSize = 16, WarmupSteps = 3 } },
            PolicyRepair = new PolicyRepairConfig
            {
                MixSize = 64, BenignShare = 0.5, Lora = new LoraConfig { Rank = 8, Alpha = 16, Dropout = 0 },
                Rl = new PolicyRlConfig { LearningRate = 3e-3, MaxSteps = 12, BatchSize = 8, CompletionsPerPrompt = 4, MaxNewTokens = 32, Beta = 0.05, WarmupSteps = 2 },
            },
        }, _ => world, p => phases.Add(p.Stage));

        Assert.Contains("repair reward model", phases);
        Assert.Contains("repair policy", phases);
        var systemicBefore = result.Before.HeldOut.Overall[FailureClass.Systemic];
        var systemicAfter = result.After.HeldOut.Overall[FailureClass.Systemic];
        Assert.True(systemicBefore.Successes > 0, "the small world shows no held-out systemic failures to repair");
        Assert.True(systemicAfter.Rate < systemicBefore.Rate / 2, $"systemic {systemicBefore} → {systemicAfter}");
        Assert.True(result.After.Reward.Safety.Accuracy.Rate > result.Before.Reward.Safety.Accuracy.Rate, "RM safety accuracy did not rise");
        // Policy repair lowering the harmful rate is proven with enough steps in PolicyRepairTests; here
        // (12 steps on the weaker small world) the check is only that evaluation ran on every attack.
        Assert.Equal(result.Before.Capability.HarmfulRate.Trials, result.After.Capability.HarmfulRate.Trials);
        Assert.NotEmpty(result.RewardCurve);
        Assert.NotEmpty(result.PolicyCurve);
        // The capability failures file lists exactly the exchanges the rates count.
        Assert.Equal(result.After.Capability.Helpfulness.Trials - result.After.Capability.Helpfulness.Successes, result.After.Capability.Unhelpful.Count);
        Assert.Equal(result.After.Capability.OverRefusalRate.Successes, result.After.Capability.OverRefused.Count);
        Assert.Contains("\"over_refused\"", File.ReadAllText(Path.Combine(Path.GetDirectoryName(result.StorePath)!, RepairDemo.CapabilityFailuresFile)));

        BrowserTests.AssertRendersInChromium(DemoReport.Build(result));
    }
}
