using System.CommandLine;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Sandbox;
using Spectre.Console;

namespace Ares.Cli.Commands;

/// <summary>`ares safety-tune`: SFT the target to refuse one method's successful attacks, then test it on the other methods' attacks.</summary>
internal static class SafetyTuneCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c") { Description = "Attack config (JSON) whose `ares attack eval` results to use; its \"safety_tune\" section sets the tuning", Required = true };
        var attacks = new Option<string>("--attacks")
        {
            Description = $"The method whose successful eval prompts become (attack, refusal) training data ({string.Join(", ", AttackEvalRunner.AllMethods)})",
            Required = true,
        };
        attacks.AcceptOnlyFromAmong([.. AttackEvalRunner.AllMethods]);
        var against = new Option<string?>("--against") { Description = "Comma-separated methods whose eval prompts test the tuned target (default: every other method with eval results)" };
        var cmd = new Command("safety-tune", """
            Safety tuning: SFT (LoRA, merged) the target on the chosen method's successful eval prompts paired with refusals,
            mixed with the sandbox's benign pairs; saves OUT/safety-tuned-METHOD. Then scores the other methods' eval prompts
            against the original and the tuned target, and measures over-refusal on the world's held-out sensitive-looking prompts.
            """) { config, attacks, against };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(config)!.FullName, r.GetValue(attacks)!, r.GetValue(against))));
        return cmd;
    }

    static int Run(string configPath, string method, string? againstList)
    {
        var c = AttackConfig.Load(configPath);
        var against = AttackCommands.ParseMethods(againstList, "--against", AttackEvalRunner.AllMethods);
        var console = ConsoleProgress.CreateConsole();
        int steps = c.SafetyTune.Sft.MaxSteps;
        var outcome = ConsoleProgress.Run(console, $"safety-tune on {method}", steps + 2, (advance, describe) =>
            SafetyTuneRunner.RunAsync(c, SandboxWorld.TryLoad, method, against,
                phase => { describe(phase); if (phase == "after") advance(steps + 1); },
                (i, m) => { advance(i + 1); describe(m.TryGetValue("loss", out var l) ? $"tune loss {l:F3}" : "tune"); }).GetAwaiter().GetResult());
        var t = outcome.Tuning;
        console.MarkupLine($"tuned on [bold]{t.AttackExamples}[/] successful {method} attacks + {t.BenignExamples} benign examples, {t.Steps} steps → [bold]{Markup.Escape(outcome.TunedDir)}[/]");
        var table = new Table().Title("Attack success of other methods' eval prompts, original vs tuned target (Wilson 95% CI)")
            .AddColumns("attacks", "prompts", "original", "tuned", "mean harm original", "mean harm tuned");
        foreach (var r in outcome.Against)
            table.AddRow(r.Method, r.Prompts.ToString(), Markup.Escape(r.Before.ToString()), Markup.Escape(r.After.ToString()), r.MeanHarmBefore.ToString("F3"), r.MeanHarmAfter.ToString("F3"));
        table.AddRow($"over-refusal ({outcome.OverRefusalPrompts} sensitive benign prompts)", "", Markup.Escape(outcome.OverRefusalBefore.ToString()), Markup.Escape(outcome.OverRefusalAfter.ToString()), "", "");
        console.Write(table);
        console.MarkupLine($"written to [bold]{Markup.Escape(Path.Combine(outcome.TunedDir, SafetyTuneOutcome.ResultFile))}[/] · {outcome.Seconds:F0} s");
        return 0;
    }
}
