using Ares.RedTeam;
using Ares.RedTeam.Probe;

namespace Ares.Cli.Tests;

/// <summary>Console capture is process-wide: these run alone, never beside another class that redirects it.</summary>
[CollectionDefinition(nameof(ConsoleCapture), DisableParallelization = true)]
public sealed class ConsoleCapture;

/// <summary>The `ares` command run in-process with stdout and stderr captured, and sample store rows.</summary>
internal static class CliHarness
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o); Console.SetError(e);
        try { return (Program.Main(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    /// <summary>A run row with built-in model identities, created <paramref name="minutes"/> after a fixed epoch.</summary>
    public static RunInfo Info(string id, int minutes, int budget, string configJson = "{}") => new()
    {
        RunId = id,
        ConfigJson = configJson,
        Seed = 1,
        AresVersion = "0.1.0",
        Policy = ModelIdentity.BuiltIn("policy", "1"),
        RewardModel = ModelIdentity.BuiltIn("rm", "1"),
        Judge = ModelIdentity.BuiltIn("judge", "1"),
        Mentor = ModelIdentity.BuiltIn("template-mentor", "1"),
        CatalogVersion = "1",
        Budget = budget,
        CreatedUtc = new DateTime(2025, 1, 1, 0, minutes, 0, DateTimeKind.Utc),
    };
}
