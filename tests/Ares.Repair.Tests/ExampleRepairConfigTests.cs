using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;

namespace Ares.RedTeam.Tests.Repair;

public class ExampleRepairConfigTests
{
    static string Examples()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "examples", "repair-sandbox.json"))) return Path.Combine(dir.FullName, "examples");
        throw new DirectoryNotFoundException("examples/ not found above the test folder");
    }

    [Fact]
    public void The_shipped_repair_config_parses_with_its_settings()
    {
        var c = RepairRoundsConfig.Load(Path.Combine(Examples(), "repair-sandbox.json"));
        Assert.Equal("sandbox-default", c.Probe.RunId);
        Assert.Equal(3, c.Rounds);
        Assert.Equal("educational", c.HeldOutTactic);
        Assert.Equal(48, c.Policy.Rl.MaxSteps);
        Assert.Equal(60, c.Reward.Training.MaxSteps);
        Assert.Equal(Path.Combine(Examples(), "ares-repair"), c.OutDir);
    }

    [Fact]
    public void The_shipped_repair_config_is_the_demo_with_its_defaults()
    {
        var example = RepairRoundsConfig.Load(Path.Combine(Examples(), "repair-sandbox.json"));
        using var dir = new TempDirectory();
        var demo = RepairDemo.Config(new RepairDemoOptions { OutDir = dir.Path });
        // Same repair settings (the example writes out the defaults the demo leaves implicit), same discovery.
        Assert.Equal(SandboxRepairDefaults.Policy.Rl, example.Policy.Rl);
        Assert.Equal(SandboxRepairDefaults.Reward, example.Reward);
        Assert.Equal(demo.Policy, example.Policy);
        Assert.Equal(demo.Reward, example.Reward);
        Assert.Equal(demo.Probe.Options, example.Probe.Options);
        Assert.Equal(demo.Probe.Policy, example.Probe.Policy);
        Assert.Equal(demo.Probe.Judge, example.Probe.Judge);
        Assert.Equal((demo.HeldOutTactic, demo.ValidationAttacks, demo.ValidationLookalikes, demo.HeldOutEvaluation),
            (example.HeldOutTactic, example.ValidationAttacks, example.ValidationLookalikes, example.HeldOutEvaluation));
        Assert.True(example.HeldOutEvaluation);
        Assert.Equal(1, demo.Rounds);
        Assert.Equal(0.5, example.Policy.BenignShare);
        Assert.NotNull(example.Policy.Selection);
    }
}
