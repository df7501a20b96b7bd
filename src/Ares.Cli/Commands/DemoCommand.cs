using System.CommandLine;
using System.Text.Json.Nodes;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;
using Spectre.Console;

namespace Ares.Cli.Commands;

/// <summary>`ares demo`: `ares repair` with one round on the sandbox world plus the held-out evaluation, and an HTML report.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out", "-o")
        {
            Description = "Folder for the configs it runs, the run store, the repaired models and the summary",
            DefaultValueFactory = _ => new DirectoryInfo("ares-demo"),
        };
        var root = new Option<string?>("--sandbox-root") { Description = "Where sandbox worlds live (default: $ARES_HOME/sandbox or ~/.cache/ares/sandbox)" };
        var seed = new Option<long>("--seed") { Description = "Seed of discovery and evaluation", DefaultValueFactory = _ => 1 };
        var eval = new Option<FileInfo?>("--eval")
        {
            Description = "A JSON file with an eval section (benchmark, judge, samples, seed, batch, limit, sampling; as `ares eval --config`): the policy is evaluated on it before and after repair",
        };
        var resume = new Option<bool>("--resume") { Description = "Continue the demo run in --out (same seed and eval): finished stages are kept." };
        var cmd = new Command("demo", """
            `ares repair` with one round on the built-in sandbox world, plus the held-out evaluation: build (or reuse)
            the world, discover where the policy and its reward model fail, repair the reward model (stage 1), repair the
            policy against it (stage 2, checkpoint selection on validation prompts), re-discover, and re-evaluate on
            held-out cases, including a tactic never used in repair. Writes the configs it ran (OUT/demo-repair.json,
            runnable with `ares repair --config`), prints before/after tables and writes report.html with the charts.
            """) { output, root, seed, eval, resume };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(output)!.FullName, r.GetValue(root), r.GetValue(seed), r.GetValue(eval)?.FullName, r.GetValue(resume))));
        return cmd;
    }

    static int Run(string outDir, string? root, long seed, string? evalFile, bool resume)
    {
        var console = ConsoleProgress.CreateConsole();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var world = SandboxCommand.EnsureWithProgress(console, "default", SandboxSpec.Default, root, force: false);
        var fields = evalFile is null ? null : new JsonObject { ["eval"] = ReadEvalSection(evalFile) };
        var options = new RepairDemoOptions { OutDir = outDir, SandboxRoot = root, Seed = seed, RepairFields = fields };
        var result = ConsoleProgress.Stages(console, progress => RepairDemo.Run(options, resume, _ => world, progress));
        var report = Path.Combine(outDir, "report.html");
        using (var store = Ares.RedTeam.Store.RunStore.Open(result.StorePath, create: false))
            Ares.Reporting.DemoReport.Build(result, world, store).Write(report);
        RepairCommand.Render(console, result);
        console.MarkupLine($"total {clock.Elapsed.TotalSeconds:F0} s; configs: {Markup.Escape(Path.Combine(outDir, RepairDemo.RepairFile))}");
        console.MarkupLine($"report: [bold]{Markup.Escape(report)}[/]");
        return 0;
    }

    /// <summary>The eval section file as a JSON object, its benchmark path made absolute (the demo's repair config lives in --out).</summary>
    static JsonObject ReadEvalSection(string path)
    {
        var (o, _) = ConfigReader.Open(ConfigReader.ReadFile(path, "eval section file", m => new ProbeConfigException(m)), path, m => new ProbeConfigException(m));
        if (o["benchmark"] is JsonValue v && v.TryGetValue<string>(out var b))
            o["benchmark"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, b));
        return o;
    }
}
