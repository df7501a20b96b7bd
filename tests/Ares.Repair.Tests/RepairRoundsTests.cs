using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;
using Ares.RedTeam.Store;
using Ares.RedTeam.Tests.Sandbox;
using Xunit.Abstractions;

namespace Ares.RedTeam.Tests.Repair;

/// <summary>`ares repair`'s loop on the small sandbox world: rounds in the store, systemic falling, resume after a crash.</summary>
public sealed class RepairRoundsTests(SmallWorldFixture fixture, ITestOutputHelper output) : IClassFixture<SmallWorldFixture>
{
    SandboxWorld Sandbox(string name) => SandboxWorld.Ensure(name, SandboxSpec.Small, fixture.Root);

    string WriteConfigs(TempDirectory dir, string repairFields)
    {
        File.WriteAllText(dir.File("probe.json"), $$"""
            {
              "run": "rr", "store": "runs.db", "sandbox_root": "{{fixture.Root}}", "seed": 3,
              "policy": "sandbox:small", "reward_model": "sandbox:small", "judge": "sandbox:small",
              "budget": { "cases": 48, "samples": 2, "batch": 16 }, "sampling": { "max_tokens": 32 }
            }
            """);
        File.WriteAllText(dir.File("repair.json"), $$"""
            { "probe": "probe.json", "out": "out", {{repairFields}}
              "reward": { "steps": 25, "batch": 8 },
              "policy": { "steps": 10, "batch": 8, "completions": 4, "max_new_tokens": 32, "mix_size": 96 },
              "validation": { "attacks": 16, "lookalikes": 8 }, "held_out_eval": false }
            """);
        return dir.File("repair.json");
    }

    [Fact]
    public void Rounds_repair_until_done_keep_each_discovery_in_the_store_and_resume_after_a_crash()
    {
        using var dir = new TempDirectory();
        var config = RepairRoundsConfig.Load(WriteConfigs(dir, "\"rounds\": 1,"));

        // Crash in round 1's policy repair, after its RM repair finished.
        var crash = Assert.Throws<IOException>(() => RepairRounds.Run(config, resume: false, Sandbox, p =>
        {
            if (p.Stage == "round 1: repair policy" && p.Done == 3) throw new IOException("simulated crash");
        }));
        Assert.Equal("simulated crash", crash.Message);
        var rmMarker = Path.Combine(RepairRounds.RoundDir(config.OutDir, 1), "reward", RepairRounds.CompleteMarker);
        Assert.True(File.Exists(rmMarker));
        var rmDoneAt = File.GetLastWriteTimeUtc(rmMarker);
        Assert.Contains("--resume", Assert.Throws<InvalidOperationException>(() => RepairRounds.Run(config, resume: false, Sandbox)).Message);

        var phases = new HashSet<string>();
        var statuses = new List<string>();
        var result = RepairRounds.Run(config, resume: true, Sandbox, p => { phases.Add(p.Stage); statuses.Add(p.Status); });
        foreach (var d in result.Discoveries) output.WriteLine($"{d.RunId}: systemic {d.Systemic} (resumed {d.Resumed})");
        output.WriteLine($"stopped: {result.StopReason}");

        // The resume redid only the interrupted stage: RM repair is not rerun, its marker untouched.
        Assert.DoesNotContain("round 1: repair reward model", phases);
        Assert.Contains("round 1: repair policy", phases);
        Assert.Contains(statuses, s => s.Contains("reward/mean") && s.Contains("kl"));   // the bar shows the trainer's numbers
        Assert.Equal(rmDoneAt, File.GetLastWriteTimeUtc(rmMarker));

        Assert.Equal(1, result.RoundsRepaired);
        Assert.Equal(["rr.d0", "rr.d1"], result.Discoveries.Select(d => d.RunId));
        Assert.True(result.Discoveries[0].Resumed);
        using var store = RunStore.Open(result.StorePath);
        foreach (var d in result.Discoveries)
        {
            var run = store.GetRun(d.RunId)!;
            Assert.Equal("complete", run.Status);
            Assert.Equal(48, store.LoadCases(d.RunId).Count);
        }
        // d1 probed the repaired models, and round 1's metrics are stored once each (the crashed attempt's partial stream was cleared).
        Assert.Equal(Path.Combine(RepairRounds.RoundDir(config.OutDir, 1), "policy"), store.GetRun("rr.d1")!.Policy.Location);
        Assert.Equal(25, store.LoadMetrics("rr.d0", RewardRepair.MetricPhase).Select(m => m.Step).Distinct().Count());
        var policySteps = store.LoadMetrics("rr.d0", PolicyRepair.MetricsPhase).GroupBy(m => m.Step).ToList();
        // Checkpoint selection is on for a sandbox world: training may stop before step 10 once a checkpoint settles it.
        var policyRepair = result.Repairs.Single().Policy!;
        Assert.NotEmpty(policyRepair.Checkpoints);
        Assert.InRange(policySteps.Count, 1, 10);
        Assert.Equal(policyRepair.Steps, policySteps.Count);
        Assert.All(policySteps, g => Assert.Equal(g.Select(m => m.Key).Distinct().Count(), g.Count()));

        // Repair works: the re-discovery finds fewer systemic failures (the selector hunts for them as hard as before).
        var (before, after) = (result.Discoveries[0].Systemic, result.Discoveries[1].Systemic);
        Assert.True(before.Successes >= 10, $"d0 found only {before}");
        Assert.True(after.Successes < before.Successes / 2, $"systemic {before} → {after}");
        Assert.Contains("\"systemic\"", File.ReadAllText(Path.Combine(config.OutDir, RepairRounds.SummaryFile)));
    }

    [Fact]
    public void A_changed_config_is_refused_on_resume_and_bad_fields_are_named()
    {
        using var dir = new TempDirectory();
        var config = RepairRoundsConfig.Load(WriteConfigs(dir, "\"rounds\": 1,"));
        Directory.CreateDirectory(config.OutDir);
        File.WriteAllText(Path.Combine(config.OutDir, RepairRounds.ConfigFile), "{\"something\": \"else\"}");
        Assert.Contains("has changed", Assert.Throws<InvalidOperationException>(() => RepairRounds.Run(config, resume: true, Sandbox)).Message);

        var file = WriteConfigs(dir, "\"rounds\": 0,");
        Assert.Contains("field 'rounds'", Assert.Throws<ProbeConfigException>(() => RepairRoundsConfig.Load(file)).Message);
        File.WriteAllText(dir.File("r2.json"), """{ "probe": "probe.json", "policy": { "method": "ppo" } }""");
        Assert.Contains("field 'policy.method' must be rloo, grpo or dpo, got 'ppo'", Assert.Throws<ProbeConfigException>(() => RepairRoundsConfig.Load(dir.File("r2.json"))).Message);
        File.WriteAllText(dir.File("r3.json"), """{ "probe": "probe.json", "round": 2 }""");
        Assert.Contains("unknown field 'round'", Assert.Throws<ProbeConfigException>(() => RepairRoundsConfig.Load(dir.File("r3.json"))).Message);
        File.WriteAllText(dir.File("r4.json"), """{ "probe": "missing.json" }""");
        Assert.Contains("does not exist", Assert.Throws<ProbeConfigException>(() => RepairRoundsConfig.Load(dir.File("r4.json"))).Message);
        File.WriteAllText(dir.File("p2.json"), """{ "policy": "some/dir", "reward_model": "sandbox:small", "judge": "refusal" }""");
        File.WriteAllText(dir.File("r5.json"), """{ "probe": "p2.json" }""");
        Assert.Contains("field 'benign_prompts' is required", Assert.Throws<ProbeConfigException>(() => RepairRoundsConfig.Load(dir.File("r5.json"))).Message);
    }
}
