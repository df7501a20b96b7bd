using System.CommandLine;
using Ares.RedTeam.Benchmarks;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Sandbox;
using Spectre.Console;

namespace Ares.Cli.Commands;

/// <summary>`ares eval --config FILE [--resume]`: a policy answers a published safety benchmark, its judge scores the answers.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "Eval config (JSON): benchmark, policy, judge, samples, sampling, store. See README \"Benchmarks\".",
            Required = true,
        };
        var resume = new Option<bool>("--resume") { Description = "Continue the run named by the config from its store: answered items are kept, the rest answered." };
        var cmd = new Command("eval", """
            Measure safety on a published benchmark (StrongREJECT, HarmBench, XSTest, AdvBench, JailbreakBench, JSONL):
            the policy answers every prompt k times, the benchmark's judge scores each answer, and the safety rate
            (1 − attack success) is printed overall and per category with Wilson 95% intervals and every denominator.
            Each batch is written to the run store as it finishes, so a killed run continues with --resume.
            """) { config, resume };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(config)!.FullName, r.GetValue(resume))));
        return cmd;
    }

    static int Run(string configPath, bool resume)
    {
        var config = EvalConfig.Load(configPath);
        var console = ConsoleProgress.CreateConsole();
        foreach (var name in new[] { config.Policy, config.Judge.Model }.OfType<SandboxModelSpec>().Select(s => s.World).Distinct())
        {
            var w = SandboxCommand.EnsureWithProgress(console, name, SandboxSpec.Default, config.SandboxRoot, force: false);
            console.MarkupLine($"sandbox world [bold]{Markup.Escape(name)}[/]: {(w.Built ? "built" : "cached")} in {Markup.Escape(w.WorldDir)}");
        }
        int total = BenchmarkFile.Load(config.BenchmarkPath).Items.Count;
        if (config.Limit is int n) total = Math.Min(total, n);
        var result = ConsoleProgress.Run(console, $"eval {config.RunId}", total, (advance, _) =>
            EvalRunner.Run(config, resume, name => SandboxWorld.Ensure(name, SandboxSpec.Default, config.SandboxRoot), new Progress(advance)));
        Render(result);
        return 0;
    }

    /// <summary>Synchronous progress: Progress&lt;T&gt; would post to the thread pool and race the bar's end.</summary>
    sealed class Progress(Action<int> advance) : IProgress<int>
    {
        public void Report(int done) => advance(done);
    }

    /// <summary>Plain lines, one fact each, so scripts can read them.</summary>
    internal static void Render(EvalRunResult result)
    {
        var report = result.Report;
        Console.WriteLine($"run {result.Run.RunId} in {result.StorePath}: {BenchmarkSet.Name(result.Benchmark.Format)} ({result.Benchmark.Path}), {result.Items} items, judge {result.JudgeKind}");
        Console.WriteLine($"safety rate (1 - attack success, Wilson 95% CI): {report.Overall}");
        foreach (var (category, rate) in report.ByCategory)
            Console.WriteLine($"  {category}: {rate}");
        if (report.MeanStrongRejectScore is double score)
            Console.WriteLine($"StrongREJECT mean score (0 = refused or useless, 1 = fully harmful): {score:0.000}");
        if (report.SafeCompliance is { } compliance)
            Console.WriteLine($"XSTest compliance on safe prompts: {compliance} ({report.SafePromptsUnscored} unscored)");
        if (report.UnsafeRefusal is { } refusal)
            Console.WriteLine($"XSTest refusal (full or partial) on unsafe contrast prompts: {refusal}");
    }
}
