using Ares.RedTeam.Probe;
using TorchSharp;
using Xunit;

namespace Ares.RedTeam.Tests.Native;

/// <summary>The Scalar-lifetime rule (see Ares.Models.Nn.ScalarOps) over Ares.RedTeam's compiled IL.</summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void Ares_RedTeam_creates_no_Scalar_that_can_die_mid_op()
    {
        var hazards = ScalarLifetimeScan.Hazards(typeof(GflowNetSelector).Assembly.Location, typeof(Scalar).Assembly.Location);
        Assert.True(hazards.Count == 0, "use Ares.Models.Nn.ScalarOps or an owned Scalar instead of:\n" + string.Join("\n", hazards));
    }
}
