using System.Diagnostics;
using System.Text.Json;
using Ares.Models.Loading;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Attack;

internal enum AttackMethod { Sft, Gfn, Reinforce, FewShot }

/// <summary>What a training command left on disk: the method, its directory and how many prompts it collected (0 for sft/fewshot).</summary>
internal sealed record AttackTrainingResult(string Method, string Dir, int Collected, double Seconds, string? RunId = null);

/// <summary>
/// Runs `ares attack train|smooth` from an <see cref="AttackConfig"/>: resolves the sandbox world (never
/// builds one), warms up the SFT attacker (OutDir/sft, reused when present), trains the chosen method
/// (OutDir/gfn/checkpoint, OutDir/reinforce/adapter: LoRA adapters over OutDir/sft), smooths
/// (OutDir/smoothed, a full HF directory) and appends every step's metrics to OutDir/metrics.jsonl and
/// to the stage's run in the config's run store (<see cref="AttackRuns"/>). `--resume` continues the
/// gfn or reinforce checkpoint (OutDir/gfn/checkpoint, OutDir/reinforce/checkpoint) and its latest run.
/// Evaluation is one path, `ares attack eval` (<see cref="AttackEvalRunner"/>), so every method is
/// sampled and scored with the same settings.
/// </summary>
internal static class AttackRunner
{
    public const string SftDir = "sft", GfnDir = "gfn", ReinforceDir = "reinforce", SmoothedDir = "smoothed", FewShotDir = "fewshot", MetricsFile = "metrics.jsonl";
    /// <summary>REINFORCE's LoRA adapter under OutDir/reinforce (the GFlowNet's is its checkpoint).</summary>
    public const string AdapterDir = "adapter", FewShotSettingsFile = "settings.json";

    /// <summary>A config's models with the sandbox defaults filled in: the attacker base (local), the seeds, the target and judge specs, and the world if any.</summary>
    public sealed record Resolved(string AttackerBase, string Seeds, ModelSpec Target, JudgeSpec Judge, IAttackWorld? World);

    public static Resolved Resolve(AttackConfig c, Func<string, IAttackWorld?> worlds)
    {
        var world = c.Sandbox is null ? null : World(c, worlds, c.Sandbox);
        if (world is null && (c.AttackerBase is null || c.Seeds is null || c.Target is null || c.Judge is null))
            throw new AttackConfigException($"{c.Source}: give either 'sandbox' (a world name) or all of 'attacker.base', 'attacker.seeds', 'target' and 'judge'");
        string attacker = c.AttackerBase is { } a ? LocalDir(c, worlds, a, w => w.PolicyDir) : world!.PolicyDir;
        return new(attacker, c.Seeds ?? world!.AttackSeedsPath,
            c.Target ?? new LocalModelSpec(world!.PolicyDir), c.Judge ?? new JudgeSpec(JudgeKind.Classifier, new LocalModelSpec(world!.JudgeDir)), world);
    }

    /// <summary>The sandbox world <paramref name="name"/> under the config's sandbox root; never built here.</summary>
    public static IAttackWorld World(AttackConfig c, Func<string, IAttackWorld?> worlds, string name)
    {
        string dir = Path.Combine(c.SandboxRoot ?? SandboxModelSpec.DefaultRoot(), name);
        return worlds(dir) ?? throw new DirectoryNotFoundException(
            $"{c.Source}: sandbox world '{name}' not found in {dir} (build it with `ares sandbox build --name {name} --root {Path.GetDirectoryName(dir)}`, adding `--spec small` for the small world)");
    }

    /// <summary>The directory of a local or sandbox spec (<paramref name="role"/> picks the world's model); an endpoint has none.</summary>
    public static string LocalDir(AttackConfig c, Func<string, IAttackWorld?> worlds, ModelSpec spec, Func<IModelWorld, string> role, string? need = null) => spec switch
    {
        LocalModelSpec l => l.Path,
        SandboxModelSpec s => role(World(c, worlds, s.World)),
        _ => throw new AttackConfigException($"{c.Source}: {need ?? "this stage"} needs a local model or \"sandbox:NAME\", got {spec}"),
    };

    /// <summary>A target (chat model) from its spec: local, a sandbox world's policy, or an OpenAI-compatible endpoint.</summary>
    public static IChatModel OpenTarget(AttackConfig c, Func<string, IAttackWorld?> worlds, ModelSpec spec) => ProbeComponents.Chat(spec, name => World(c, worlds, name), w => w.PolicyDir);

    public static IJudge OpenJudge(AttackConfig c, Func<string, IAttackWorld?> worlds, JudgeSpec spec) => ProbeComponents.CreateJudge(spec, name => World(c, worlds, name), c.Source);

    /// <summary>A target's identity without loading its weights (a local model is hashed; an endpoint is its URL and model name).</summary>
    public static ModelIdentity TargetIdentity(AttackConfig c, Func<string, IAttackWorld?> worlds, ModelSpec spec)
    {
        if (spec is EndpointModelSpec e) { using var m = ProbeComponents.Endpoint(e); return m.Identity; }
        return ModelIdentity.ForLocal(LocalDir(c, worlds, spec, w => w.PolicyDir));
    }

    /// <summary>The same for a judge (one without weights, a refusal matcher or an endpoint, is built to ask it).</summary>
    public static ModelIdentity JudgeIdentity(AttackConfig c, Func<string, IAttackWorld?> worlds, JudgeSpec spec)
    {
        if (spec.Model is LocalModelSpec or SandboxModelSpec) return ModelIdentity.ForLocal(LocalDir(c, worlds, spec.Model, w => w.JudgeDir));
        using var j = OpenJudge(c, worlds, spec);
        return j.Identity;
    }

    /// <summary>
    /// Trains with <paramref name="method"/>; <paramref name="onStep"/> gets (phase, step, total, metrics)
    /// for the SFT warm-up ("sft") and the method ("gfn"/"reinforce"). fewshot trains nothing: it records
    /// the few-shot baseline's settings (OutDir/fewshot/settings.json); the baseline is sampled at eval time.
    /// </summary>
    public static AttackTrainingResult Train(AttackConfig c, Func<string, IAttackWorld?> worlds, AttackMethod method, bool resume,
        Action<string, int, int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        var clock = Stopwatch.StartNew();
        var paths = Resolve(c, worlds);
        Directory.CreateDirectory(c.OutDir);
        if (method == AttackMethod.FewShot)
        {
            string dir = Path.Combine(c.OutDir, FewShotDir);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, FewShotSettingsFile), JsonSerializer.Serialize(new
            {
                attacker = paths.AttackerBase, seeds = paths.Seeds, examples = c.Eval.FewShotExamples, max_tokens = c.Gfn.Training.MaxTokens, temperature = 1.0, time = DateTime.UtcNow,
            }, AttackJson.Indented));
            return new AttackTrainingResult("fewshot", dir, 0, clock.Elapsed.TotalSeconds);   // nothing trained: no run
        }
        using var store = RunStore.Open(c.StorePath);
        using var metrics = new StreamWriter(Path.Combine(c.OutDir, MetricsFile), append: true);
        string runId = "";   // the run of the stage being trained
        void Log(string phase, int step, int total, IReadOnlyDictionary<string, double> m)
        {
            metrics.WriteLine(JsonSerializer.Serialize(new { phase, step, time = DateTime.UtcNow, metrics = m }));
            metrics.Flush();
            store.AppendMetrics(runId, phase, step, m);
            onStep?.Invoke(phase, step, total, m);
        }
        var targetId = TargetIdentity(c, worlds, paths.Target);
        var judgeId = JudgeIdentity(c, worlds, paths.Judge);
        AttackProvenance Who(string attackerDir) => new(targetId, judgeId, ModelIdentity.ForLocal(attackerDir), paths.Seeds);

        string sft = Path.Combine(c.OutDir, SftDir);
        if (!File.Exists(Path.Combine(sft, "config.json")))
        {
            runId = AttackRuns.Begin(store, c, "sft", Who(paths.AttackerBase), c.Sft.MaxSteps);
            AttackRuns.Track(store, runId, () => AttackerWarmup.Train(paths.AttackerBase, SeedAttackPrompt.ReadPrompts(paths.Seeds), c.Context, c.Sft, sft,
                (i, m) => Log("sft", i, c.Sft.MaxSteps, m)));
        }
        if (method == AttackMethod.Sft) return new AttackTrainingResult("sft", sft, 0, clock.Elapsed.TotalSeconds);

        using var target = OpenTarget(c, worlds, paths.Target);
        using var judge = OpenJudge(c, worlds, paths.Judge);
        var scorer = new AttackScorer(target, judge, c.Gfn.TargetSampling, c.ResponsesPerPrompt);
        if (method == AttackMethod.Gfn)
        {
            using var attack = new GflowNetAttack(sft, c.Context, scorer, c.Gfn, Path.Combine(c.OutDir, GfnDir), resume);
            runId = AttackRuns.Begin(store, c, "gfn", Who(sft), c.Gfn.Training.MaxSteps, continueLatest: resume);
            store.DeleteMetrics(runId, "gfn", fromStep: attack.NextStep);   // steps logged after the checkpoint are redone
            return AttackRuns.Track(store, runId, () =>
            {
                attack.Run((i, m) => Log("gfn", i, c.Gfn.Training.MaxSteps, m));
                return new AttackTrainingResult("gfn", Path.Combine(c.OutDir, GfnDir, GflowNetAttack.CheckpointDir), attack.Collected.Count, clock.Elapsed.TotalSeconds, runId);
            });
        }
        string rlDir = Path.Combine(c.OutDir, ReinforceDir);
        using (var attack = new ReinforceAttack(sft, c.Context, scorer, c.Reinforce, rlDir, resume))
        {
            runId = AttackRuns.Begin(store, c, "reinforce", Who(sft), c.Reinforce.Training.MaxSteps, continueLatest: resume);
            store.DeleteMetrics(runId, "reinforce", fromStep: attack.NextStep);
            return AttackRuns.Track(store, runId, () =>
            {
                attack.Run((i, m) => Log("reinforce", i, c.Reinforce.Training.MaxSteps, m));
                File.WriteAllText(Path.Combine(rlDir, GflowNetAttack.CollectedFile), JsonSerializer.Serialize(attack.Collected));
                attack.SaveAdapter(Path.Combine(rlDir, AdapterDir));
                return new AttackTrainingResult("reinforce", Path.Combine(rlDir, AdapterDir), attack.Collected.Count, clock.Elapsed.TotalSeconds, runId);
            });
        }
    }

    /// <summary>MLE smoothing on OutDir/gfn's collected prompts into OutDir/smoothed.</summary>
    public static AttackTrainingResult Smooth(AttackConfig c, Func<string, IAttackWorld?> worlds, Action<string, int, int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        var clock = Stopwatch.StartNew();
        string collectedPath = Path.Combine(c.OutDir, GfnDir, GflowNetAttack.CheckpointDir, GflowNetAttack.CollectedFile);
        if (!File.Exists(collectedPath)) throw new FileNotFoundException($"{collectedPath}: no GFlowNet run to smooth (run `ares attack train --method gfn` first)", collectedPath);
        var collected = JsonSerializer.Deserialize<List<CollectedPrompt>>(File.ReadAllText(collectedPath))
            ?? throw new InvalidDataException($"{collectedPath}: expected a JSON array of collected prompts");
        string smoothed = Path.Combine(c.OutDir, SmoothedDir), sft = Path.Combine(c.OutDir, SftDir);
        var paths = Resolve(c, worlds);
        using var store = RunStore.Open(c.StorePath);
        string runId = AttackRuns.Begin(store, c, "smooth", new AttackProvenance(TargetIdentity(c, worlds, paths.Target), JudgeIdentity(c, worlds, paths.Judge),
            ModelIdentity.ForLocal(sft), paths.Seeds), c.Smoothing.Sft.MaxSteps);
        return AttackRuns.Track(store, runId, () =>
        {
            var selected = MleSmoothing.Run(sft, c.Context, collected, c.Smoothing, smoothed, (i, m) =>
            {
                store.AppendMetrics(runId, "smooth", i, m);
                onStep?.Invoke("smooth", i, c.Smoothing.Sft.MaxSteps, m);
            });
            store.AppendMetrics(runId, "smooth/selection", 0, new Dictionary<string, double> { ["collected"] = collected.Count, ["selected"] = selected.Count });
            return new AttackTrainingResult("smoothed", smoothed, selected.Count, clock.Elapsed.TotalSeconds, runId);
        });
    }
}
