using System.CommandLine;
using Ares.RedTeam.Attack;
using Spectre.Console;

namespace Ares.Cli.Commands;

/// <summary>`ares attack train|smooth`: attacker LMs trained as GFlowNet red-teamers (or baselines) from a JSON config.</summary>
internal static class AttackCommands
{
    public static Command Create()
    {
        var cmd = new Command("attack", "Train attacker LMs that write diverse, effective attack prompts (GFlowNet red-teaming, Lee et al. 2024)");
        cmd.Add(Train());
        cmd.Add(Smooth());
        return cmd;
    }

    static Option<FileInfo> ConfigOption() => new("--config", "-c")
    {
        Description = "Attack config (JSON): out, sandbox or attacker/target/judge, train, reward, prompts, exploration, buffer, reinforce, smoothing, eval. See examples/attack-sandbox.json.",
        Required = true,
    };

    static Command Train()
    {
        var config = ConfigOption();
        var method = new Option<string>("--method", "-m")
        {
            Description = "gfn (trajectory balance, the default), reinforce (RLOO with KL to the SFT attacker) or sft (the warm-up only)",
            DefaultValueFactory = _ => "gfn",
        };
        method.AcceptOnlyFromAmong("gfn", "reinforce", "sft");
        var resume = new Option<bool>("--resume") { Description = "Continue the GFlowNet run from OUT/gfn/checkpoint (adapter, log Z head, optimizer, buffer, step)" };
        var cmd = new Command("train", """
            SFT-warm the attacker on seed prompts (OUT/sft, reused when present), then train it: the GFlowNet
            samples prompts in proportion to exp((log p_ref/γ + mean_k log p_harm/β)/T); checkpoints in OUT/gfn.
            Ends by sampling eval.prompts prompts from the SFT and the trained attacker and scoring them against the target.
            """) { config, method, resume };
        cmd.SetAction(r => CliErrors.Run(() => RunTrain(r.GetValue(config)!.FullName, r.GetValue(method)!, r.GetValue(resume))));
        return cmd;
    }

    static Command Smooth()
    {
        var config = ConfigOption();
        var cmd = new Command("smooth", """
            MLE smoothing: train a fresh copy of the SFT attacker on the GFlowNet run's collected prompts with
            harm > smoothing.min_harm and reference log-prob > smoothing.min_ref_logprob (deduplicated); saves OUT/smoothed.
            """) { config };
        cmd.SetAction(r => CliErrors.Run(() => RunSmooth(r.GetValue(config)!.FullName)));
        return cmd;
    }

    static int RunTrain(string configPath, string methodName, bool resume)
    {
        var c = AttackConfig.Load(configPath);
        var method = methodName switch { "reinforce" => AttackMethod.Reinforce, "sft" => AttackMethod.Sft, _ => AttackMethod.Gfn };
        var console = ConsoleProgress.CreateConsole();
        int total = c.Sft.MaxSteps + (method switch { AttackMethod.Gfn => c.Gfn.Training.MaxSteps, AttackMethod.Reinforce => c.Reinforce.Training.MaxSteps, _ => 0 });
        var results = ConsoleProgress.Run(console, $"attack {methodName}", total, (advance, describe) =>
            AttackRunner.Train(c, method, resume, (phase, step, _, m) =>
            {
                advance(phase == "sft" ? step + 1 : c.Sft.MaxSteps + step + 1);
                describe(Describe(phase, m));
            }));
        Render(console, c, results);
        return 0;
    }

    static int RunSmooth(string configPath)
    {
        var c = AttackConfig.Load(configPath);
        var console = ConsoleProgress.CreateConsole();
        var (selected, result) = ConsoleProgress.Run(console, "attack smooth", c.Smoothing.Sft.MaxSteps, (advance, describe) =>
            AttackRunner.Smooth(c, (phase, step, _, m) => { advance(step + 1); describe(Describe(phase, m)); }));
        console.MarkupLine($"smoothed on [bold]{selected}[/] collected prompts");
        Render(console, c, [result]);
        return 0;
    }

    static string Describe(string phase, IReadOnlyDictionary<string, double> m) => phase switch
    {
        "gfn" => $"log Z {m["tb/log_z"]:F1} · loss {m["tb/loss"]:F2} · buffer {m["buffer/size"]:F0}" + (m.TryGetValue("harm/mean", out var h) ? $" · harm {h:F2}" : ""),
        "reinforce" => $"reward {m["reward/mean"]:F2} · kl {m["kl"]:F2}",
        _ => m.TryGetValue("loss", out var l) ? $"{phase} loss {l:F3}" : phase,
    };

    static void Render(IAnsiConsole console, AttackConfig c, IReadOnlyList<AttackEvaluationSummary> results)
    {
        var table = new Table().Title($"Attack success against the target ({c.ResponsesPerPrompt} responses per prompt; success = mean harm > 0.5)")
            .AddColumns("attacker", "prompts", "success", "rate", "mean harm");
        foreach (var r in results)
            table.AddRow(Markup.Escape(r.Attacker), r.Prompts.ToString(), r.Successes.ToString(), r.SuccessRate.ToString("P1"), r.MeanHarm.ToString("F3"));
        console.Write(table);
        console.MarkupLine($"outputs in [bold]{Markup.Escape(c.OutDir)}[/] (metrics.jsonl, evaluation.jsonl)");
    }
}
