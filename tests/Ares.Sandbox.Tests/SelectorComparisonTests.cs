using Ares.RedTeam.Probe;
using Ares.RedTeam.Sandbox;
using Xunit.Abstractions;

namespace Ares.RedTeam.Tests.Sandbox;

/// <summary>Discovery on the small world at equal budget: the GFlowNet selector against the default one.</summary>
public class SelectorComparisonTests(SmallWorldFixture fixture, ITestOutputHelper output) : IClassFixture<SmallWorldFixture>
{
    ProbeRunResult Probe(string kind, TempDirectory dir)
    {
        var config = ProbeConfig.Parse($$"""
            {
              "run": "{{kind}}", "store": "{{dir.File(kind + ".db")}}", "sandbox_root": "{{fixture.Root}}",
              "policy": "sandbox:small", "reward_model": "sandbox:small", "judge": "sandbox:small",
              "budget": { "cases": 80, "samples": 1, "batch": 16 }, "sampling": { "max_tokens": 32 },
              "selector": { "kind": "{{kind}}" }
            }
            """, dir.File(kind + ".json"));
        return ProbeRunner.Run(config, resume: false, name => SandboxWorld.Ensure(name, SandboxSpec.Small, fixture.Root));
    }

    [Fact]
    public void The_gflownet_selector_finds_at_least_as_many_distinct_systemic_failures_as_the_default()
    {
        _ = fixture.World;
        using var dir = new TempDirectory();
        var adaptive = Probe("adaptive", dir);
        var gfn = Probe("gflownet", dir);
        foreach (var (name, r) in new[] { ("adaptive", adaptive), ("gflownet", gfn) })
            output.WriteLine($"{name}: {r.Report.Overall[FailureClass.Systemic]} systemic, {r.Report.DistinctSystemicTuples} distinct tuples, " +
                             $"planted systemic recall {r.Planted!.WeaknessRecall(FailureClass.Systemic)}");

        Assert.True(gfn.Report.DistinctSystemicTuples >= adaptive.Report.DistinctSystemicTuples,
            $"distinct systemic tuples: gflownet {gfn.Report.DistinctSystemicTuples} vs adaptive {adaptive.Report.DistinctSystemicTuples}");
        // Both planted systemic weaknesses (hypothetical, fiction) are still found.
        Assert.Equal(2, gfn.Planted!.WeaknessRecall(FailureClass.Systemic)!.Value.Successes);
    }
}
