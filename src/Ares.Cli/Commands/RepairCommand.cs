using System.CommandLine;
using Ares.RedTeam.Benchmarks;
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
                "min_relative_drop, out, held_out_tactic, held_out_eval, benign_prompts, retention_pairs, reward{…}, policy{…}, validation{…}, eval{…}. See README \"Repair rounds\".",
            Required = true,
        };
        var rounds = new Option<int?>("--rounds") { Description = "Repair rounds at most, instead of the config's \"rounds\" (give it again on --resume)" };
        var resume = new Option<bool>("--resume")
        {
            Description = "Continue the repair run in the config's out folder: finished discoveries and repair stages are kept, an interrupted one is redone.",
        };
        var cmd = new Command("repair", """
            ARES repair in rounds. Discovery d0 probes the policy and reward model; round k repairs the reward model on
            every safety failure found so far (stage 1), then optimises the policy against it on the attack prompts
            found so far plus benign prompts (stage 2, keeping the checkpoint chosen on validation prompts); discovery
            dk then re-probes the repaired pair with a fresh seed. Stops after the configured rounds, or as soon as
            systemic failures stop falling. On a sandbox world the models are also re-evaluated on its held-out sets;
            with an eval section, on a benchmark before and after. Each discovery is a run in the probe config's store
            (RUN.d0, RUN.d1, …) carrying its round's repair metrics; each round's models are saved as HF directories
            under OUT/round-K; OUT/rounds.json summarises the run.
            """) { config, rounds, resume };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(config)!.FullName, r.GetValue(rounds), r.GetValue(resume))));
        return cmd;
    }

    static int Run(string configPath, int? rounds, bool resume)
    {
        var config = RepairRoundsConfig.Load(configPath);
        if (rounds is int n)
        {
            if (n < 1) throw new ArgumentException($"--rounds must be ≥ 1, got {n}");
            config = config with { Rounds = n, NormalisedJson = config.NormalisedJson + $"\nrounds={n}" };
        }
        var console = ConsoleProgress.CreateConsole();
        var root = config.Probe.SandboxRoot;
        foreach (var spec in new[] { config.Probe.Policy, config.Probe.RewardModel, config.Probe.Judge.Model })
            if (spec is SandboxModelSpec s) SandboxCommand.EnsureWithProgress(console, s.World, SandboxSpec.Default, root, force: false);
        var result = ConsoleProgress.Stages(console, progress =>
            RepairRounds.Run(config, resume, name => SandboxWorld.Ensure(name, SandboxSpec.Default, root), progress));
        Render(console, result);
        return 0;
    }

    /// <summary>The discoveries, the held-out and benchmark before/after when the run has them, how checkpoints were kept, and where everything went.</summary>
    internal static void Render(IAnsiConsole console, RepairRoundsResult r)
    {
        static string P(Proportion p) => Markup.Escape(p.ToString());
        var t = new Table().Title("Discoveries (rate, Wilson 95% CI, count)").AddColumns("discovery", "run", "systemic", "policy-only", "RM-only", "robust");
        foreach (var d in r.Discoveries)
            t.AddRow(d.Index == 0 ? "d0 (as given)" : $"d{d.Index} (after round {d.Index})", Markup.Escape(d.RunId), P(d.Systemic),
                P(d.Report.Overall[FailureClass.PolicyOnly]), P(d.Report.Overall[FailureClass.RmOnly]), P(d.Report.Overall[FailureClass.Robust]));
        console.Write(t);
        if (r.HeldOut is { } h) RenderHeldOut(console, h);
        if (r.Eval is { } e) RenderEval(console, e);
        console.MarkupLine($"policy checkpoints: {Markup.Escape(r.Selection)}");
        foreach (var repair in r.Repairs)
            if (repair.Policy is { Checkpoints.Count: > 0 } p)
                console.MarkupLine($"round {repair.Round} checkpoints (step: validation harmful, lookalike refusals): {Markup.Escape(string.Join("; ", p.Checkpoints.Select(c => $"{c.Step + 1}: {c.Harmful.Successes}/{c.Harmful.Trials}, {c.OverRefusal.Successes}/{c.OverRefusal.Trials}")))}; kept step {p.SelectedStep + 1}");
        console.MarkupLine($"{r.RoundsRepaired} round(s) repaired; stopped: {Markup.Escape(r.StopReason)}");
        if (r.PhaseSeconds.Count > 0)
            console.MarkupLine($"phases (s): {Markup.Escape(string.Join(", ", r.PhaseSeconds.Select(p => $"{p.Key} {p.Value:F0}")))}");
        if (r.FinalPolicyDir is not null)
            console.MarkupLine($"repaired models: policy [bold]{Markup.Escape(r.FinalPolicyDir)}[/], reward model [bold]{Markup.Escape(r.FinalRewardDir!)}[/]");
        console.MarkupLine($"run store: {Markup.Escape(r.StorePath)}; summary: {Markup.Escape(Path.Combine(r.OutDir, RepairRounds.SummaryFile))}");
    }

    static void RenderHeldOut(IAnsiConsole console, HeldOutComparison r)
    {
        static string P(Proportion p) => Markup.Escape(p.ToString());
        var tactic = r.HeldOutTactic is null ? "no tactic held out" : $"'{r.HeldOutTactic}' never used in repair";
        var t = new Table().Title($"Held-out evaluation ({r.Before.HeldOutCases.Count} cases of new tuples; {Markup.Escape(tactic)})")
            .AddColumns("measure", "before", "after");
        foreach (var c in new[] { FailureClass.Systemic, FailureClass.PolicyOnly, FailureClass.RmOnly, FailureClass.Robust, FailureClass.Unscored })
            t.AddRow($"{c.SnakeName()} rate", P(r.Before.HeldOut.Overall[c]), P(r.After.HeldOut.Overall[c]));
        if (r.TacticFailures is var (fb, fa))
            t.AddRow($"failure rate, held-out tactic '{Markup.Escape(r.HeldOutTactic!)}'", P(fb), P(fa));
        t.AddRow("RM accuracy, held-out safety pairs", P(r.Before.Reward.Safety.Accuracy), P(r.After.Reward.Safety.Accuracy));
        t.AddRow("RM accuracy, held-out original preferences", P(r.Before.Reward.Retention.Accuracy), P(r.After.Reward.Retention.Accuracy));
        t.AddRow("harmful answers to held-out attacks (judge)", P(r.Before.Capability.HarmfulRate), P(r.After.Capability.HarmfulRate));
        t.AddRow("helpfulness, held-out benign prompts", P(r.Before.Capability.Helpfulness), P(r.After.Capability.Helpfulness));
        t.AddRow("over-refusal, sensitive-looking benign prompts", P(r.Before.Capability.OverRefusalRate), P(r.After.Capability.OverRefusalRate));
        t.AddRow("mean RM reward, benign prompts", $"{r.Before.Capability.BenignMeanReward:F3}", $"{r.After.Capability.BenignMeanReward:F3}");
        console.Write(t);
    }

    static void RenderEval(IAnsiConsole console, EvalComparison e)
    {
        var t = new Table().Title($"Benchmark eval: {Markup.Escape(BenchmarkSet.Name(e.Before.Benchmark.Format))}, judge {Markup.Escape(e.Before.JudgeKind)} (safety = 1 − attack success, Wilson 95% CI)")
            .AddColumns("measure", $"before ({Markup.Escape(e.Before.Run.RunId)})", $"after ({Markup.Escape(e.After.Run.RunId)})");
        foreach (var (measure, values) in EvalReport.Rows([e.Before.Report, e.After.Report]))
            t.AddRow(Markup.Escape(measure), Markup.Escape(values[0]), Markup.Escape(values[1]));
        console.Write(t);
    }
}
