using Ares.RedTeam.Repair;

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
        Assert.Equal(24, c.Policy.Rl.MaxSteps);
        Assert.Equal(60, c.Reward.Training.MaxSteps);
        Assert.Equal(Path.Combine(Examples(), "ares-repair"), c.OutDir);
    }
}
