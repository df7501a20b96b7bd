using System.CommandLine;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Sandbox;
using Spectre.Console;

namespace Ares.Cli.Commands;

/// <summary>`ares probe`: ARES discovery described by a JSON config, resumable, ending with the taxonomy.</summary>
internal static class ProbeCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "Probe config (JSON): policy, reward_model, judge, mentor, budget, sampling, selector, store. See README \"Probe config\".",
            Required = true,
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "Continue the run named by the config (its \"run\" field, else the file name) from its store: finished cases are kept, missing ones probed.",
        };
        var cmd = new Command("probe", """
            Discover where the policy and its reward model fail, alone and together (ARES discovery).
            The Safety Mentor composes cases from catalog tuples chosen adaptively; the policy answers k times;
            the judge and the reward model score every answer; each case is classified robust, policy-only,
            RM-only or systemic. Every case is written to the run store (SQLite) as it finishes, so a killed
            run continues with --resume.
            """) { config, resume };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(config)!.FullName, r.GetValue(resume))));
        return cmd;
    }

    static int Run(string configPath, bool resume)
    {
        var config = ProbeConfig.Load(configPath);
        var console = ConsoleProgress.CreateConsole();
        // Sandbox worlds are built (or found cached) first, each with its own progress display.
        foreach (var name in SandboxNames(config).Distinct())
        {
            var w = SandboxCommand.EnsureWithProgress(console, name, SandboxSpec.Default, config.SandboxRoot, force: false);
            console.MarkupLine($"sandbox world [bold]{Markup.Escape(name)}[/]: {(w.Built ? "built" : "cached")} in {Markup.Escape(w.WorldDir)}");
        }
        var result = ConsoleProgress.Run(console, $"probe {config.RunId}", config.Options.Budget, (advance, describe) =>
            ProbeRunner.Run(config, resume, name => SandboxWorld.Ensure(name, SandboxSpec.Default, config.SandboxRoot), new Progress(advance, describe)));
        Render(console, result);
        return 0;
    }

    static IEnumerable<string> SandboxNames(ProbeConfig c)
    {
        foreach (var spec in new[] { c.Policy, c.RewardModel, c.Judge.Model, c.Mentor.Llm })
            if (spec is SandboxModelSpec s) yield return s.World;
    }

    /// <summary>Synchronous progress: Progress&lt;T&gt; would post to the thread pool and race the bar's end.</summary>
    sealed class Progress(Action<int> advance, Action<string> describe) : IProgress<ProbeProgress>
    {
        public void Report(ProbeProgress p)
        {
            advance(p.Completed);
            describe($"systemic {p.Counts[FailureClass.Systemic]} · policy-only {p.Counts[FailureClass.PolicyOnly]} · RM-only {p.Counts[FailureClass.RmOnly]}");
        }
    }

    internal static void Render(IAnsiConsole console, ProbeRunResult result)
    {
        var report = result.Report;
        console.MarkupLine($"run [bold]{Markup.Escape(result.Run.RunId)}[/] in {Markup.Escape(result.StorePath)}: {report.Planned} cases, " +
            $"{report.MentorFailures} mentor failures, {report.Responses} responses ({report.TargetErrors} target errors, {report.UnscoreableVerdicts} unscoreable verdicts)");
        var table = new Table().Title("Taxonomy (rate, Wilson 95% CI, count)").AddColumns("class", "rate", "95% CI", "cases");
        foreach (var c in Enum.GetValues<FailureClass>())
        {
            var p = report.Overall[c];
            table.AddRow(c.SnakeName(), Rate(p), Interval(p), $"{p.Successes}/{p.Trials}");
        }
        console.Write(table);
        console.MarkupLine($"distinct systemic failures: {report.DistinctSystemicTuples} component tuples, {report.DistinctSystemicPrompts} prompts");

        var byTactic = new Table().Title("Failures by tactic").AddColumns("tactic", "cases", "systemic", "policy-only", "RM-only");
        foreach (var ((kind, id), rates) in report.ByComponent.Where(x => x.Key.Kind == ComponentKind.Tactic).OrderByDescending(x => x.Value[FailureClass.Systemic].Rate))
            byTactic.AddRow(Markup.Escape(id), rates.Cases.ToString(), Cell(rates[FailureClass.Systemic]), Cell(rates[FailureClass.PolicyOnly]), Cell(rates[FailureClass.RmOnly]));
        console.Write(byTactic);

        if (result.JudgeAgreement is { } agreement)
            console.MarkupLine($"judge agrees with the sandbox ground truth (stand-in ⇔ harmful) on {Markup.Escape(agreement.ToString())} of judged responses");
        if (result.Planted is { } planted)
        {
            var t = new Table().Title("Planted weaknesses (sandbox ground truth)").AddColumns("tactic", "planted class", "observed share", "found");
            foreach (var w in planted.Weaknesses)
                t.AddRow(Markup.Escape(w.Tactic), w.Planted.SnakeName(), Cell(w.Observed), w.Found ? "yes" : "[red]no[/]");
            console.Write(t);
            foreach (var c in new[] { FailureClass.Systemic, FailureClass.PolicyOnly, FailureClass.RmOnly })
                if (planted.WeaknessRecall(c) is { } recall)
                    console.MarkupLine($"recall of planted {c.SnakeName()} weaknesses: {recall.Successes}/{recall.Trials}; case-level recall: {Markup.Escape(planted.CaseRecall.TryGetValue(c, out var cr) ? cr.ToString() : "–")}");
        }
    }

    static string Rate(Proportion p) => p.Trials == 0 ? "–" : $"{p.Rate:P1}";
    static string Interval(Proportion p) => Markup.Escape(p.Trials == 0 ? "–" : $"[{p.Low:P1}, {p.High:P1}]");
    static string Cell(Proportion p) => Markup.Escape(p.Trials == 0 ? "–" : $"{p.Rate:P0} [{p.Low:P0}, {p.High:P0}]");
}
