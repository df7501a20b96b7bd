using TorchSharp;
using Xunit;

namespace Ares.Cli.Tests;

/// <summary>The Scalar-lifetime rule (see Ares.Models.Nn.ScalarOps) over the CLI's and the report's compiled IL.</summary>
public class ScalarLifetimeTests
{
    [Theory]
    [InlineData("ares.dll")]
    [InlineData("Ares.Reporting.dll")]
    public void Creates_no_Scalar_that_can_die_mid_op(string assembly)
    {
        var path = Path.Combine(AppContext.BaseDirectory, assembly);
        Assert.True(File.Exists(path), $"{path} not found next to the tests");
        var hazards = ScalarLifetimeScan.Hazards(path, typeof(Scalar).Assembly.Location);
        Assert.True(hazards.Count == 0, "use Ares.Models.Nn.ScalarOps or an owned Scalar instead of:\n" + string.Join("\n", hazards));
    }
}
