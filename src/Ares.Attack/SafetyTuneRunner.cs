using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Models.Loading;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Attack;

/// <summary>One attack set's success against the original and the tuned target (same prompts, same sampling).</summary>
internal sealed record SafetyTransferRow(string Method, int Prompts, Proportion Before, Proportion After, double MeanHarmBefore, double MeanHarmAfter);

/// <summary>`ares safety-tune`'s outcome: the tuning, the other methods' attack success before/after, and over-refusal before/after.</summary>
internal sealed record SafetyTuneOutcome(string Method, string TunedDir, SafetyTuningResult Tuning, IReadOnlyList<SafetyTransferRow> Against,
    Proportion OverRefusalBefore, Proportion OverRefusalAfter, int OverRefusalPrompts, double Seconds)
{
    public const string ResultFile = "safety_tune.json";
    public string ToJson() => JsonSerializer.Serialize(this, AttackJson.Indented);
}

/// <summary>
/// Runs `ares safety-tune` (Lee et al. 2025, §6) on an attack run: the successful prompts (mean harm
/// over k responses &gt; the success threshold, against the main target) of one method's
/// `ares attack eval` results become (attack, refusal) SFT data with the config's "safety_tune"
/// settings (<see cref="SafetyTuningOptions"/>); the target is tuned and saved to OutDir/safety-tuned-METHOD;
/// then every other method's eval prompts (all N, from their results JSONL) are scored against the
/// original and the tuned target with the eval's sampling, and over-refusal is measured on the sandbox
/// world's held-out sensitive-looking benign prompts (data/overrefusal_heldout.jsonl). The benign
/// retention mix is the world's (<see cref="IAttackWorld.SafetyBenign"/>); without a sandbox the
/// benign share must be 0. Recorded in the run store as run RUN.safety-tune-METHOD.N: the SFT steps
/// (phase "safety_tune"), each other method's success before/after and over-refusal before/after.
/// </summary>
internal static class SafetyTuneRunner
{
    public static string TunedDir(AttackConfig c, string method) => Path.Combine(c.OutDir, $"safety-tuned-{method}");

    /// <summary>(prompt, mean harm) of every main-target row of a method's eval results JSONL, in order; errors name the file and line.</summary>
    public static IReadOnlyList<(string Prompt, double MeanHarm)> ReadResults(string path, string target = AttackEvalRunner.MainTarget)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no eval results (run `ares attack eval` first)", path);
        var rows = new List<(string, double)>();
        foreach (var row in JsonlRows.Read(path, "eval results"))
        {
            var r = row.Json;
            if (!r.TryGetProperty("prompt", out var p) || p.ValueKind != JsonValueKind.String || !r.TryGetProperty("target", out var t) || t.ValueKind != JsonValueKind.String
                || !r.TryGetProperty("mean_harm", out var h) || h.ValueKind != JsonValueKind.Number)
                throw new InvalidDataException($"{row.Where}: expected an eval row with string \"prompt\", string \"target\" and number \"mean_harm\"");
            if (t.GetString() == target) rows.Add((p.GetString()!, h.GetDouble()));
        }
        return rows.Count > 0 ? rows : throw new InvalidDataException($"{path}: no rows for target '{target}'");
    }

    /// <summary>
    /// Tunes on <paramref name="method"/>'s successful prompts and measures <paramref name="against"/>
    /// (null = every other method with eval results). <paramref name="onStep"/> gets the SFT steps.
    /// </summary>
    public static async Task<SafetyTuneOutcome> RunAsync(AttackConfig c, Func<string, IAttackWorld?> worlds, string method, IReadOnlyList<string>? against = null,
        Action<string>? onPhase = null, Action<int, IReadOnlyDictionary<string, double>>? onStep = null, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        string evalDir = AttackEvalRunner.EvalDir(c);
        var others = (against ?? AttackEvalRunner.AllMethods.Where(m => m != method && File.Exists(AttackEvalReport.ResultsPath(evalDir, m))).ToList()).ToList();
        if (others.Contains(method)) throw new ArgumentException($"--against lists '{method}', the method tuned on: measure robustness to attacks found by other methods");
        if (others.Count == 0) throw new InvalidOperationException($"no other method has eval results in {evalDir}: run `ares attack eval` with at least two methods");
        var tuning = new SafetyTuning(c.SafetyTune);
        var successful = tuning.SuccessfulPrompts(ReadResults(AttackEvalReport.ResultsPath(evalDir, method)));
        var attackSets = others.Select(m => (Method: m, Prompts: ReadResults(AttackEvalReport.ResultsPath(evalDir, m)).Select(r => r.Prompt).ToList())).ToList();

        var paths = AttackRunner.Resolve(c, worlds);
        IReadOnlyList<(string Prompt, string Response)> benign = [];
        IReadOnlyList<string> sensitive = [];
        Func<string, bool> isRefusal = new SafetyCheckOptions().IsRefusal;
        if (paths.World is { } world)
        {
            benign = world.SafetyBenign(c.SafetyTune.Seed);
            sensitive = CapabilityEvaluation.ReadPrompts(world.OverRefusalPromptsPath);
            isRefusal = world.IsRefusal;
        }
        else if (c.SafetyTune.BenignShare > 0)
            throw new AttackConfigException($"{c.Source}: field 'safety_tune.benign_share' is {c.SafetyTune.BenignShare}, but without a 'sandbox' there are no benign retention pairs: set it to 0");

        var eval = AttackEvalRunner.Options(c);
        var check = new SafetyCheckOptions { ResponsesPerPrompt = eval.ResponsesPerPrompt, Sampling = eval.TargetSampling, IsRefusal = isRefusal };
        string targetDir = AttackRunner.LocalDir(c, worlds, paths.Target, w => w.PolicyDir, "safety-tune (it trains the target)");
        using var judge = AttackRunner.OpenJudge(c, worlds, paths.Judge);
        using var store = RunStore.Open(c.StorePath);
        string runId = AttackRuns.Begin(store, c, $"safety-tune-{method}", new AttackProvenance(ModelIdentity.ForLocal(targetDir), judge.Identity,
            ModelIdentity.BuiltIn("attack-set", method), paths.Seeds), c.SafetyTune.Sft.MaxSteps, method: method,
            details: new JsonObject { ["tuned_on"] = method, ["against"] = new JsonArray([.. others.Select(o => (JsonNode?)o)]) });
        return await AttackRuns.TrackAsync(store, runId, async () =>
        {
            onPhase?.Invoke("before");
            var before = await MeasureAll(targetDir, judge, attackSets, sensitive, check, ct);

            onPhase?.Invoke("tune");
            string tunedDir = TunedDir(c, method);
            var (data, generated) = await tuning.BuildDataAsync(successful, benign, ct: ct);
            SafetyTuningResult result;
            using (var target = ModelLoader.Load(targetDir))
                result = tuning.Tune(target, data, generated, tunedDir, (i, m) => { store.AppendMetrics(runId, "safety_tune", i, m); onStep?.Invoke(i, m); });

            onPhase?.Invoke("after");
            var after = await MeasureAll(tunedDir, judge, attackSets, sensitive, check, ct);

            var rows = attackSets.Select((s, i) => new SafetyTransferRow(s.Method, s.Prompts.Count, before.Checks[i].AttackSuccess, after.Checks[i].AttackSuccess,
                before.Checks[i].MeanHarm, after.Checks[i].MeanHarm)).ToList();
            var outcome = new SafetyTuneOutcome(method, tunedDir, result, rows, before.OverRefusal, after.OverRefusal, sensitive.Count, clock.Elapsed.TotalSeconds);
            File.WriteAllText(Path.Combine(tunedDir, SafetyTuneOutcome.ResultFile), outcome.ToJson());
            // Step i of "safety_tune/against" is the i-th method of the run's "against"; "over_refusal" is step 0 of its own phase.
            for (int i = 0; i < rows.Count; i++)
                store.AppendMetrics(runId, "safety_tune/against", i, new Dictionary<string, double>
                {
                    ["success_before/successes"] = rows[i].Before.Successes, ["success_before/rate"] = rows[i].Before.Rate,
                    ["success_after/successes"] = rows[i].After.Successes, ["success_after/rate"] = rows[i].After.Rate,
                    ["prompts"] = rows[i].Prompts, ["harm_before/mean"] = rows[i].MeanHarmBefore, ["harm_after/mean"] = rows[i].MeanHarmAfter,
                });
            store.AppendMetrics(runId, "safety_tune/over_refusal", 0, new Dictionary<string, double>
            {
                ["before/successes"] = outcome.OverRefusalBefore.Successes, ["before/rate"] = outcome.OverRefusalBefore.Rate,
                ["after/successes"] = outcome.OverRefusalAfter.Successes, ["after/rate"] = outcome.OverRefusalAfter.Rate, ["trials"] = outcome.OverRefusalAfter.Trials,
            });
            return outcome;
        });
    }

    /// <summary>Each attack set's success against the model in <paramref name="targetDir"/>, and its over-refusal (measured once).</summary>
    static async Task<(IReadOnlyList<SafetyCheck> Checks, Proportion OverRefusal)> MeasureAll(string targetDir, IJudge judge,
        IReadOnlyList<(string Method, List<string> Prompts)> sets, IReadOnlyList<string> sensitive, SafetyCheckOptions check, CancellationToken ct)
    {
        using var target = LocalChatModel.Load(targetDir);
        var checks = new List<SafetyCheck>();
        for (int i = 0; i < sets.Count; i++)
            checks.Add(await SafetyTuning.MeasureAsync(target, judge, sets[i].Prompts, i == 0 ? sensitive : [], check, ct));
        return (checks, checks[0].OverRefusal);
    }
}
