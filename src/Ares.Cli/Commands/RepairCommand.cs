using System.CommandLine;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;
using Spectre.Console;

namespace Ares.Cli.Commands;

/// <summary>`ares repair`: discover → repair RM → repair policy → re-discover, in rounds, resumable.</summary>
internal static class RepairCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "Repair config (JSON): \"probe\" (a probe config naming the models, judge and discovery budget), rounds, " +
                "min_relative_drop, out, held_out_tactic, benign_prompts, retention_pairs, reward{…}, policy{…}. See README \"Repair rounds\".",
            Required = true,
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "Continue the repair run in the config's out folder: finished discoveries and repair stages are kept, an interrupted one is redone.",
        };
        var cmd = new Command("repair", """
            ARES repair in rounds. Discovery d0 probes the policy and reward model; round k repairs the reward model on
            every safety failure found so far (stage 1), then optimises the policy against it on the attack prompts
            found so far plus benign prompts (stage 2); discovery dk then re-probes the repaired pair with a fresh seed.
            Stops after the configured rounds, or as soon as systemic failures stop falling. Each discovery is a run in
            the probe config's store (RUN.d0, RUN.d1, …) carrying its round's repair metrics; each round's models are
            saved as HF directories under OUT/round-K; OUT/rounds.json summarises the run.
            """) { config, resume };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(config)!.FullName, r.GetValue(resume))));
        return cmd;
    }

    static int Run(string configPath, bool resume)
    {
        var config = RepairRoundsConfig.Load(configPath);
        var console = ConsoleProgress.CreateConsole();
        var root = config.Probe.SandboxRoot;
        foreach (var spec in new[] { config.Probe.Policy, config.Probe.RewardModel, config.Probe.Judge.Model })
            if (spec is SandboxModelSpec s) SandboxCommand.EnsureWithProgress(console, s.World, SandboxSpec.Default, root, force: false);
        var result = ConsoleProgress.Stages(console, progress =>
            RepairRounds.Run(config, resume, name => SandboxWorld.Ensure(name, SandboxSpec.Default, root), progress));
        Render(console, result);
        return 0;
    }

    static void Render(IAnsiConsole console, RepairRoundsResult r)
    {
        var t = new Table().Title("Discoveries (rate, Wilson 95% CI, count)").AddColumns("discovery", "run", "systemic", "policy-only", "RM-only", "robust");
        foreach (var d in r.Discoveries)
            t.AddRow(d.Index == 0 ? "d0 (as given)" : $"d{d.Index} (after round {d.Index})", Markup.Escape(d.RunId), Markup.Escape(d.Systemic.ToString()),
                Markup.Escape(d.Report.Overall[FailureClass.PolicyOnly].ToString()), Markup.Escape(d.Report.Overall[FailureClass.RmOnly].ToString()),
                Markup.Escape(d.Report.Overall[FailureClass.Robust].ToString()));
        console.Write(t);
        console.MarkupLine($"{r.RoundsRepaired} round(s) repaired; stopped: {Markup.Escape(r.StopReason)}");
        if (r.FinalPolicyDir is not null)
            console.MarkupLine($"repaired models: policy [bold]{Markup.Escape(r.FinalPolicyDir)}[/], reward model [bold]{Markup.Escape(r.FinalRewardDir!)}[/]");
        console.MarkupLine($"run store: {Markup.Escape(r.StorePath)}; summary: {Markup.Escape(Path.Combine(r.OutDir, RepairRounds.SummaryFile))}");
    }
}
