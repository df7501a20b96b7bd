using TorchSharp;

namespace Ares.RedTeam.Tests.Sandbox;

/// <summary>The Scalar-lifetime rule (see Ares.Models.Nn.ScalarOps) over the compiled IL of the red-team layers above discovery.</summary>
public class ScalarLifetimeTests
{
    [Theory]
    [InlineData("Ares.Repair.dll")]
    [InlineData("Ares.Attack.dll")]
    [InlineData("Ares.Sandbox.dll")]
    public void Creates_no_Scalar_that_can_die_mid_op(string assembly)
    {
        var path = Path.Combine(AppContext.BaseDirectory, assembly);
        Assert.True(File.Exists(path), $"{path} not found next to the tests");
        var hazards = ScalarLifetimeScan.Hazards(path, typeof(Scalar).Assembly.Location);
        Assert.True(hazards.Count == 0, "use Ares.Models.Nn.ScalarOps or an owned Scalar instead of:\n" + string.Join("\n", hazards));
    }
}
