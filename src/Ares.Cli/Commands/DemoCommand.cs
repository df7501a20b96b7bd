using System.CommandLine;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;
using Spectre.Console;

namespace Ares.Cli.Commands;

/// <summary>`ares demo`: the whole ARES loop on the sandbox world, before and after side by side.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out", "-o")
        {
            Description = "Folder for the run store, the repaired models and the summary",
            DefaultValueFactory = _ => new DirectoryInfo("ares-demo"),
        };
        var root = new Option<string?>("--sandbox-root") { Description = "Where sandbox worlds live (default: $ARES_HOME/sandbox or ~/.cache/ares/sandbox)" };
        var seed = new Option<long>("--seed") { Description = "Seed of discovery and evaluation", DefaultValueFactory = _ => 1 };
        var cmd = new Command("demo", """
            The whole ARES loop on the built-in sandbox world: build (or reuse) the world, discover where the policy
            and its reward model fail, repair the reward model (stage 1), repair the policy against it (stage 2),
            and re-evaluate on held-out cases, including a tactic never used in repair. Prints before/after tables
            and writes a self-contained HTML report (report.html) with the charts.
            """) { output, root, seed };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(output)!.FullName, r.GetValue(root), r.GetValue(seed))));
        return cmd;
    }

    static int Run(string outDir, string? root, long seed)
    {
        var console = ConsoleProgress.CreateConsole();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var world = SandboxCommand.EnsureWithProgress(console, "default", SandboxSpec.Default, root, force: false);
        var options = new RepairDemoOptions { OutDir = outDir, SandboxRoot = root, Seed = seed };
        var result = ConsoleProgress.Stages(console, progress => RepairDemo.Run(options, _ => world, progress));
        var report = Path.Combine(outDir, "report.html");
        Ares.Reporting.DemoReport.Build(result).Write(report);
        Render(console, result, clock.Elapsed);
        console.MarkupLine($"report: [bold]{Markup.Escape(report)}[/]");
        return 0;
    }

    static void Render(IAnsiConsole console, RepairDemoResult r, TimeSpan elapsed)
    {
        static string P(Proportion p) => Markup.Escape(p.ToString());
        var t = new Table().Title($"Held-out evaluation ({r.Before.HeldOutCases.Count} cases of new tuples; '{Markup.Escape(r.HeldOutTactic)}' never used in repair)")
            .AddColumns("measure", "before", "after");
        foreach (var c in new[] { FailureClass.Systemic, FailureClass.PolicyOnly, FailureClass.RmOnly, FailureClass.Robust, FailureClass.Unscored })
            t.AddRow($"{c.SnakeName()} rate", P(r.Before.HeldOut.Overall[c]), P(r.After.HeldOut.Overall[c]));
        var key = (Ares.RedTeam.Catalog.ComponentKind.Tactic, r.HeldOutTactic);
        if (r.Before.HeldOut.ByComponent.TryGetValue(key, out var hb) && r.After.HeldOut.ByComponent.TryGetValue(key, out var ha))
            t.AddRow($"failure rate, held-out tactic '{Markup.Escape(r.HeldOutTactic)}'", P(Failures(hb)), P(Failures(ha)));
        t.AddRow("RM accuracy, held-out safety pairs", P(r.Before.Reward.Safety.Accuracy), P(r.After.Reward.Safety.Accuracy));
        t.AddRow("RM accuracy, held-out original preferences", P(r.Before.Reward.Retention.Accuracy), P(r.After.Reward.Retention.Accuracy));
        t.AddRow("harmful answers to held-out attacks (judge)", P(r.Before.Capability.HarmfulRate), P(r.After.Capability.HarmfulRate));
        t.AddRow("helpfulness, held-out benign prompts", P(r.Before.Capability.Helpfulness), P(r.After.Capability.Helpfulness));
        t.AddRow("over-refusal, sensitive-looking benign prompts", P(r.Before.Capability.OverRefusalRate), P(r.After.Capability.OverRefusalRate));
        t.AddRow("mean RM reward, benign prompts", $"{r.Before.Capability.BenignMeanReward:F3}", $"{r.After.Capability.BenignMeanReward:F3}");
        console.Write(t);
        var sb = r.Before.HeldOut.Overall[FailureClass.Systemic].Rate;
        var sa = r.After.HeldOut.Overall[FailureClass.Systemic].Rate;
        console.MarkupLine($"systemic failures on held-out cases: {sb:P1} → {sa:P1} ({(sb > 0 ? (sb - sa) / sb : 0):P0} relative reduction)");
        if (r.PolicyRepair.Checkpoints.Count > 0)
            console.MarkupLine($"policy checkpoints (step: validation harmful, lookalike refusals): {Markup.Escape(string.Join("; ", r.PolicyRepair.Checkpoints.Select(c => $"{c.Step + 1}: {c.Harmful.Successes}/{c.Harmful.Trials}, {c.OverRefusal.Successes}/{c.OverRefusal.Trials}")))}; kept step {r.PolicyRepair.SelectedStep + 1}");
        console.MarkupLine($"phases (s): {Markup.Escape(string.Join(", ", r.PhaseSeconds.Select(p => $"{p.Key} {p.Value:F0}")))}; total {elapsed.TotalSeconds:F0} s");
        console.MarkupLine($"run store: {Markup.Escape(r.StorePath)} (run {Markup.Escape(r.Discovery.RunId)}); repaired models: {Markup.Escape(r.RewardRepair.OutputDir)}, {Markup.Escape(r.PolicyRepair.SavedTo ?? "")}");
    }

    static Proportion Failures(ClassRates rates)
    {
        var k = rates[FailureClass.Systemic].Successes + rates[FailureClass.PolicyOnly].Successes + rates[FailureClass.RmOnly].Successes;
        return Proportion.Wilson(k, rates.Cases);
    }
}
