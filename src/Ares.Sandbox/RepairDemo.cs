using System.Text.Json.Nodes;

using Ares.RedTeam.Repair;

namespace Ares.RedTeam.Sandbox;

/// <summary>What `ares demo` runs: the sandbox world, the seed, the discovery budget; everything else is `ares repair`'s defaults.</summary>
internal sealed record RepairDemoOptions
{
    public required string OutDir { get; init; }
    public string World { get; init; } = "default";
    public string? SandboxRoot { get; init; }
    public long Seed { get; init; } = 1;
    /// <summary>Discovery budget (cases) and answers per case, as examples/probe-sandbox.json.</summary>
    public int DiscoveryCases { get; init; } = 240;
    public int Samples { get; init; } = 3;
    /// <summary>A tactic kept out of both repair stages: the held-out evaluation shows whether repair generalises beyond the tactics it saw.</summary>
    public string HeldOutTactic { get; init; } = "educational";
    /// <summary>More repair-config fields ("reward", "policy", "validation", "eval", …), as a repair config writes them; none = the defaults.</summary>
    public JsonObject? RepairFields { get; init; }
}

/// <summary>
/// `ares demo` is `ares repair` with one round on a sandbox world plus the held-out evaluation: it writes the
/// probe and repair configs into OUT (<see cref="ProbeFile"/>, <see cref="RepairFile"/>) and runs them through
/// <see cref="RepairRounds"/>, so `ares repair --config OUT/demo-repair.json` is the same run, and
/// examples/repair-sandbox.json with one round gives the same numbers on the same seed.
/// </summary>
internal static class RepairDemo
{
    public const string ProbeFile = "demo-probe.json", RepairFile = "demo-repair.json";

    /// <summary>Writes the demo's configs into <see cref="RepairDemoOptions.OutDir"/> and loads them as `ares repair` would.</summary>
    public static RepairRoundsConfig Config(RepairDemoOptions o)
    {
        Directory.CreateDirectory(o.OutDir);
        var world = $"sandbox:{o.World}";
        var probe = new JsonObject
        {
            ["run"] = "demo", ["store"] = "ares-runs.db", ["seed"] = o.Seed, ["catalog"] = "default",
            ["policy"] = world, ["reward_model"] = world, ["judge"] = world, ["mentor"] = "template",
            ["budget"] = new JsonObject { ["cases"] = o.DiscoveryCases, ["samples"] = o.Samples, ["batch"] = 16 },
            ["sampling"] = new JsonObject { ["temperature"] = 0.7, ["top_p"] = 1.0, ["max_tokens"] = 64 },
        };
        if (o.SandboxRoot is not null) probe["sandbox_root"] = Path.GetFullPath(o.SandboxRoot);
        var repair = new JsonObject { ["probe"] = ProbeFile, ["out"] = ".", ["rounds"] = 1, ["held_out_tactic"] = o.HeldOutTactic };
        foreach (var (key, value) in o.RepairFields ?? [])
            repair[key] = value?.DeepClone();
        File.WriteAllText(Path.Combine(o.OutDir, ProbeFile), probe.ToJsonString(SnakeCaseJson.Options));
        var path = Path.Combine(o.OutDir, RepairFile);
        File.WriteAllText(path, repair.ToJsonString(SnakeCaseJson.Options));
        return RepairRoundsConfig.Load(path);
    }

    public static RepairRoundsResult Run(RepairDemoOptions o, bool resume, Func<string, SandboxWorld> sandbox, Action<StageProgress>? progress = null) =>
        RepairRounds.Run(Config(o), resume, sandbox, progress);
}
