using System.Diagnostics;
using System.Text.Json;
using Ares.Models.Loading;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Sandbox;

namespace Ares.RedTeam.Attack;

internal enum AttackMethod { Sft, Gfn, Reinforce }

/// <summary>A trained attacker's closing evaluation: success rate and mean harm over sampled prompts.</summary>
internal sealed record AttackEvaluationSummary(string Attacker, int Prompts, int Successes, double MeanHarm, double Seconds)
{
    public double SuccessRate => Prompts == 0 ? 0 : (double)Successes / Prompts;
}

/// <summary>
/// Runs `ares attack train|smooth` from an <see cref="AttackConfig"/>: resolves the sandbox world (never
/// builds one), warms up the SFT attacker (OutDir/sft, reused when present), trains the chosen method
/// (OutDir/gfn, OutDir/reinforce), smooths (OutDir/smoothed), appends every step's metrics to
/// OutDir/metrics.jsonl and evaluates the result on EvalPrompts sampled prompts.
/// </summary>
internal static class AttackRunner
{
    public const string SftDir = "sft", GfnDir = "gfn", ReinforceDir = "reinforce", SmoothedDir = "smoothed", MetricsFile = "metrics.jsonl";

    sealed record Resolved(string AttackerBase, string Seeds, string Target, string Judge);

    static Resolved Resolve(AttackConfig c)
    {
        if (c.Sandbox is null) return new(c.AttackerBase!, c.Seeds!, c.Target!, c.Judge!);
        string dir = Path.Combine(c.SandboxRoot ?? SandboxWorld.DefaultRoot(), c.Sandbox);
        var world = SandboxWorld.TryLoad(dir) ?? throw new DirectoryNotFoundException($"{c.Source}: sandbox world '{c.Sandbox}' not found in {dir} (build it with `ares sandbox build`)");
        return new(c.AttackerBase ?? world.PolicyDir, c.Seeds ?? Path.Combine(world.DataDir, SandboxData.AttackSeeds), c.Target ?? world.PolicyDir, c.Judge ?? world.JudgeDir);
    }

    /// <summary>
    /// Trains with <paramref name="method"/>; <paramref name="onStep"/> gets (phase, step, total, metrics)
    /// for the SFT warm-up ("sft") and the method ("gfn"/"reinforce"). Returns the evaluation of the SFT
    /// attacker and, for gfn/reinforce, of the trained one.
    /// </summary>
    public static IReadOnlyList<AttackEvaluationSummary> Train(AttackConfig c, AttackMethod method, bool resume,
        Action<string, int, int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        var paths = Resolve(c);
        Directory.CreateDirectory(c.OutDir);
        using var metrics = new StreamWriter(Path.Combine(c.OutDir, MetricsFile), append: true);
        void Log(string phase, int step, int total, IReadOnlyDictionary<string, double> m)
        {
            metrics.WriteLine(JsonSerializer.Serialize(new { phase, step, time = DateTime.UtcNow, metrics = m }));
            metrics.Flush();
            onStep?.Invoke(phase, step, total, m);
        }

        string sft = Path.Combine(c.OutDir, SftDir);
        if (!File.Exists(Path.Combine(sft, "config.json")))
            AttackerWarmup.Train(paths.AttackerBase, AttackerWarmup.LoadSeeds(paths.Seeds), c.Context, c.Sft, sft, (i, m) => Log("sft", i, c.Sft.MaxSteps, m));

        using var target = LocalChatModel.Load(paths.Target);
        using var judge = ClassifierJudge.Load(paths.Judge);
        var scorer = new AttackScorer(target, judge, c.Gfn.TargetSampling, c.ResponsesPerPrompt);
        var results = new List<AttackEvaluationSummary>();
        using (var attacker = ModelLoader.Load(sft))
            results.Add(Evaluate(SftDir, scorer, c, AttackerSampling.Sample(attacker, c.Context.ContextIds(attacker), c.EvalPrompts, c.Gfn.Training.MaxTokens, c.Seed + 17)));
        switch (method)
        {
            case AttackMethod.Gfn:
                using (var attack = new GflowNetAttack(sft, c.Context, scorer, c.Gfn, Path.Combine(c.OutDir, GfnDir), resume))
                {
                    attack.Run((i, m) => Log("gfn", i, c.Gfn.Training.MaxSteps, m));
                    results.Add(Evaluate(GfnDir, scorer, c, attack.Sample(c.EvalPrompts, c.Seed + 17)));
                }
                break;
            case AttackMethod.Reinforce:
                using (var attack = new ReinforceAttack(sft, c.Context, scorer, c.Reinforce))
                {
                    attack.Run((i, m) => Log("reinforce", i, c.Reinforce.Training.MaxSteps, m));
                    string dir = Path.Combine(c.OutDir, ReinforceDir);
                    Directory.CreateDirectory(dir);
                    File.WriteAllText(Path.Combine(dir, GflowNetAttack.CollectedFile), JsonSerializer.Serialize(attack.Collected));
                    results.Add(Evaluate(ReinforceDir, scorer, c, attack.Sample(c.EvalPrompts, c.Seed + 17)));
                }
                break;
        }
        WriteSummary(c, results);
        return results;
    }

    /// <summary>MLE smoothing on OutDir/gfn's collected prompts into OutDir/smoothed, then evaluates it.</summary>
    public static (int Selected, AttackEvaluationSummary Result) Smooth(AttackConfig c, Action<string, int, int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        var paths = Resolve(c);
        string collectedPath = Path.Combine(c.OutDir, GfnDir, GflowNetAttack.CheckpointDir, GflowNetAttack.CollectedFile);
        if (!File.Exists(collectedPath)) throw new FileNotFoundException($"{collectedPath}: no GFlowNet run to smooth (run `ares attack train --method gfn` first)", collectedPath);
        var collected = JsonSerializer.Deserialize<List<CollectedPrompt>>(File.ReadAllText(collectedPath))
            ?? throw new InvalidDataException($"{collectedPath}: expected a JSON array of collected prompts");
        string smoothed = Path.Combine(c.OutDir, SmoothedDir);
        var selected = MleSmoothing.Run(Path.Combine(c.OutDir, SftDir), c.Context, collected, c.Smoothing, smoothed, (i, m) => onStep?.Invoke("smooth", i, c.Smoothing.Sft.MaxSteps, m));
        using var target = LocalChatModel.Load(paths.Target);
        using var judge = ClassifierJudge.Load(paths.Judge);
        var scorer = new AttackScorer(target, judge, c.Gfn.TargetSampling, c.ResponsesPerPrompt);
        using var attacker = ModelLoader.Load(smoothed);
        var result = Evaluate(SmoothedDir, scorer, c, AttackerSampling.Sample(attacker, c.Context.ContextIds(attacker), c.EvalPrompts, c.Gfn.Training.MaxTokens, c.Seed + 17));
        WriteSummary(c, [result]);
        return (selected.Count, result);
    }

    static AttackEvaluationSummary Evaluate(string name, AttackScorer scorer, AttackConfig c, IReadOnlyList<string> prompts)
    {
        var clock = Stopwatch.StartNew();
        var sampling = c.Gfn.TargetSampling with { Seed = c.Seed + 1_000_000_007L };   // not any training step's seed
        var scores = new AttackScorer(scorer.Target, scorer.Judge, sampling, scorer.ResponsesPerPrompt).ScoreAsync(prompts).GetAwaiter().GetResult();
        return new AttackEvaluationSummary(name, scores.Count, scores.Count(s => s.Success), scores.Count == 0 ? 0 : scores.Average(s => s.MeanHarm), clock.Elapsed.TotalSeconds);
    }

    static void WriteSummary(AttackConfig c, IReadOnlyList<AttackEvaluationSummary> results)
    {
        using var w = new StreamWriter(Path.Combine(c.OutDir, "evaluation.jsonl"), append: true);
        foreach (var r in results)
            w.WriteLine(JsonSerializer.Serialize(new { r.Attacker, r.Prompts, r.Successes, r.SuccessRate, r.MeanHarm, time = DateTime.UtcNow }));
    }
}
