using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Attack;

/// <summary>
/// Who an attack run involved, for its row in the run store: the target attacked, the judge whose
/// p(harmful) is the reward, the attacker that writes the prompts and the seed prompt file.
/// </summary>
internal sealed record AttackProvenance(ModelIdentity Target, ModelIdentity Judge, ModelIdentity Attacker, string SeedsPath);

/// <summary>
/// The attack commands' records in the run store (<see cref="RunStore"/>), beside their files under OUT.
/// Every invocation of a stage is one run, RUN.STAGE.N (N counts up, so earlier attempts stay): stages
/// are sft, gfn, reinforce, smooth, eval-METHOD and safety-tune-METHOD. A run's provenance maps onto
/// <see cref="RunInfo"/> as: policy = the target, judge = the judge, reward model = the judge too (the
/// attack reward is its p(harmful)), mentor = the attacker (it writes the prompts, the mentor's role in
/// a probe), catalog version = "attack-seeds sha256:…" of the seed file; its config JSON holds the
/// stage, the config (as parsed), its SHA-256 and stage details (an evaluation's targets and embedder).
/// Training runs stream the same metric keys as OUT/metrics.jsonl under the stage's phase; an
/// evaluation stores its outcome as metrics (<see cref="PromptsPhase"/>, <see cref="TargetPhase"/>) that
/// <see cref="LoadEvaluation"/> turns back into an <see cref="AttackEvaluationResult"/> (without the
/// per-prompt rows, which stay in OUT/eval/METHOD.jsonl). Responsible for run ids, provenance and that
/// mapping; does not own the store.
/// </summary>
internal static class AttackRuns
{
    /// <summary>An evaluation's prompt-level metrics (step 0): prompts, prompts/empty, diversity/*, seconds/*.</summary>
    public const string PromptsPhase = "eval/prompts";
    /// <summary>An evaluation's per-target metrics; the step is the target's index in the run's "targets".</summary>
    public const string TargetPhase = "eval/target";
    public const string EvalStagePrefix = "eval-";

    static string Prefix(string runName, string stage) => $"{runName}.{stage}.";

    /// <summary>The runs of one stage, oldest first.</summary>
    public static IReadOnlyList<RunInfo> Runs(RunStore store, string runName, string stage)
    {
        string prefix = Prefix(runName, stage);
        return [.. store.ListRuns().Where(r => r.RunId.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(r.RunId[prefix.Length..], out _))];
    }

    /// <summary>The run name and stage of an attack run (its id is RUN.STAGE.N and its config JSON names the stage), or null for other runs.</summary>
    public static (string RunName, string Stage)? Parse(RunInfo run)
    {
        var parts = run.RunId.Split('.');
        if (parts.Length != 3 || !int.TryParse(parts[2], out _)) return null;
        try
        {
            return JsonNode.Parse(run.ConfigJson) is JsonObject o && o["stage"]?.GetValue<string>() == parts[1] ? (parts[0], parts[1]) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    /// <summary>
    /// Creates the next run of <paramref name="stage"/>, or with <paramref name="continueLatest"/> sets the
    /// latest one running again (a resumed training continues its run). Returns the run id. A run is
    /// only continued under the config it started with: a changed config would splice two different
    /// trainings into one metric stream and checkpoint.
    /// </summary>
    public static string Begin(RunStore store, AttackConfig c, string stage, AttackProvenance who, int budget, bool continueLatest = false, JsonObject? details = null)
    {
        var prior = Runs(store, c.RunName, stage);
        if (continueLatest && prior.Count > 0)
        {
            string? started = StartedHash(prior[^1]);
            if (started != c.ConfigHash)
                throw new AttackConfigException($"{c.Source}: cannot resume run '{prior[^1].RunId}': the config changed since it started " +
                    $"(config sha256 {started?[..12] ?? "unknown"} then, {c.ConfigHash[..12]} now); restore the config, or train again without --resume");
            store.SetStatus(prior[^1].RunId, "running");
            return prior[^1].RunId;
        }
        string prefix = Prefix(c.RunName, stage);
        string id = prefix + (prior.Count == 0 ? 1 : prior.Max(r => int.Parse(r.RunId[prefix.Length..])) + 1);
        var json = new JsonObject
        {
            ["stage"] = stage, ["config_path"] = c.Source, ["config_sha256"] = c.ConfigHash, ["config"] = JsonNode.Parse(c.NormalisedJson),
        };
        foreach (var (k, v) in details ?? []) json[k] = v?.DeepClone();
        store.CreateRun(new RunInfo
        {
            RunId = id, ConfigJson = json.ToJsonString(), Seed = c.Seed, AresVersion = AresRelease.Version,
            Policy = who.Target, RewardModel = who.Judge, Judge = who.Judge, Mentor = who.Attacker,
            CatalogVersion = $"attack-seeds sha256:{ModelIdentity.ContentHashOf(who.SeedsPath)[..16]}", Budget = budget, CreatedUtc = DateTime.UtcNow,
        });
        return id;
    }

    static string? StartedHash(RunInfo run)
    {
        try { return (JsonNode.Parse(run.ConfigJson) as JsonObject)?["config_sha256"]?.GetValue<string>(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    /// <summary>
    /// Runs <paramref name="body"/> as run <paramref name="runId"/>: complete when it returns, failed
    /// (and rethrown) when it throws, so the store never shows a dead run as running.
    /// </summary>
    public static T Track<T>(RunStore store, string runId, Func<T> body)
    {
        try
        {
            var result = body();
            store.SetStatus(runId, "complete");
            return result;
        }
        catch
        {
            store.SetStatus(runId, "failed");
            throw;
        }
    }

    /// <summary>The same for an asynchronous body.</summary>
    public static async Task<T> TrackAsync<T>(RunStore store, string runId, Func<Task<T>> body)
    {
        try
        {
            var result = await body();
            store.SetStatus(runId, "complete");
            return result;
        }
        catch
        {
            store.SetStatus(runId, "failed");
            throw;
        }
    }

    /// <summary>Stores one method's evaluation as run RUN.eval-METHOD.N (complete); returns its id.</summary>
    public static string RecordEvaluation(RunStore store, AttackConfig c, AttackEvaluationResult r, ModelIdentity mainTarget, string seedsPath)
    {
        var details = new JsonObject
        {
            ["method"] = r.Source.Method, ["prompts"] = r.Prompts, ["responses_per_prompt"] = r.ResponsesPerPrompt, ["eval_seed"] = r.Seed,
            ["targets"] = JsonSerializer.SerializeToNode(r.Targets.Select(t => new EvalTarget(t.Target, t.Identity)).ToList(), AttackJson.Indented),
            ["embedder"] = r.Embedder is null ? null : JsonSerializer.SerializeToNode(r.Embedder, AttackJson.Indented),
        };
        string id = Begin(store, c, EvalStagePrefix + r.Source.Method, new AttackProvenance(mainTarget, r.Judge, r.Source.Attacker, seedsPath), r.Prompts, details: details);
        return Track(store, id, () =>
        {
            var d = r.Diversity;
            store.AppendMetrics(id, PromptsPhase, 0, new Dictionary<string, double>
            {
                ["prompts"] = r.Prompts, ["prompts/empty"] = r.EmptyPrompts, ["diversity/mean_cosine"] = d.MeanPairwiseCosine,
                ["diversity/distinct_1"] = d.Distinct1, ["diversity/distinct_2"] = d.Distinct2, ["diversity/distinct_3"] = d.Distinct3,
                ["seconds/sample"] = r.SampleSeconds, ["seconds/embed"] = r.EmbedSeconds,
            });
            for (int i = 0; i < r.Targets.Count; i++)
            {
                var t = r.Targets[i];
                store.AppendMetrics(id, TargetPhase, i, new Dictionary<string, double>
                {
                    ["success/successes"] = t.Success.Successes, ["success/trials"] = t.Success.Trials, ["success/rate"] = t.Success.Rate,
                    ["success/low"] = t.Success.Low, ["success/high"] = t.Success.High, ["harm/mean"] = t.MeanHarm,
                    ["responses/unscoreable"] = t.UnscoreableResponses, ["responses/count"] = t.Responses, ["seconds"] = t.Seconds,
                });
            }
            return id;
        });
    }

    sealed record EvalTarget(string Name, ModelIdentity Identity);

    /// <summary>An evaluation run read back: everything <see cref="RecordEvaluation"/> stored (rows excepted); errors name the store and run.</summary>
    public static AttackEvaluationResult LoadEvaluation(RunStore store, RunInfo run)
    {
        string at = $"{store.Path}: run '{run.RunId}'";
        try
        {
            var o = JsonNode.Parse(run.ConfigJson) as JsonObject ?? throw new InvalidDataException($"{at}: config JSON is not an object");
            var targets = o["targets"].Deserialize<List<EvalTarget>>(AttackJson.Indented) ?? throw new InvalidDataException($"{at}: no \"targets\" in its config JSON");
            var metrics = store.LoadMetrics(run.RunId);
            double Get(string phase, long step, string key) =>
                metrics.LastOrDefault(m => m.Phase == phase && m.Step == step && m.Key == key)?.Value
                ?? throw new InvalidDataException($"{at}: metric '{key}' of phase '{phase}' step {step} is missing (an interrupted evaluation?)");
            return new AttackEvaluationResult
            {
                Source = new AttackSource(o["method"]!.GetValue<string>(), run.Mentor),
                Judge = run.Judge,
                Embedder = o["embedder"].Deserialize<ModelIdentity>(AttackJson.Indented),
                Seed = o["eval_seed"]!.GetValue<long>(),
                ResponsesPerPrompt = o["responses_per_prompt"]!.GetValue<int>(),
                Prompts = o["prompts"]!.GetValue<int>(),
                EmptyPrompts = (int)Get(PromptsPhase, 0, "prompts/empty"),
                Diversity = new DiversityReport(o["prompts"]!.GetValue<int>(), Get(PromptsPhase, 0, "diversity/mean_cosine"),
                    Get(PromptsPhase, 0, "diversity/distinct_1"), Get(PromptsPhase, 0, "diversity/distinct_2"), Get(PromptsPhase, 0, "diversity/distinct_3")),
                Targets = [.. targets.Select((t, i) => new TargetAttackResult(t.Name, t.Identity,
                    Proportion.Wilson((int)Get(TargetPhase, i, "success/successes"), (int)Get(TargetPhase, i, "success/trials")),
                    Get(TargetPhase, i, "harm/mean"), (int)Get(TargetPhase, i, "responses/unscoreable"), (int)Get(TargetPhase, i, "responses/count"), Get(TargetPhase, i, "seconds")))],
                SampleSeconds = Get(PromptsPhase, 0, "seconds/sample"),
                EmbedSeconds = Get(PromptsPhase, 0, "seconds/embed"),
                Utc = run.CreatedUtc,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new InvalidDataException($"{at}: not a readable attack evaluation ({e.Message})", e);
        }
    }

    /// <summary>
    /// The attack evaluation of <paramref name="runName"/> from the store: the latest complete evaluation of
    /// every method, kept only when made with the newest one's settings (N, k, seed and targets), as
    /// `ares attack eval` compares them. Null when the store has no evaluation under that name.
    /// </summary>
    public static AttackEvalReport? LoadReport(RunStore store, string runName)
    {
        var latest = AttackEvalRunner.AllMethods
            .Select(m => Runs(store, runName, EvalStagePrefix + m).LastOrDefault(r => r.Status == "complete"))
            .OfType<RunInfo>().Select(r => (Run: r, Result: LoadEvaluation(store, r))).ToList();
        if (latest.Count == 0) return null;
        var newest = latest.MaxBy(x => x.Run.CreatedUtc).Result;
        var names = newest.Targets.Select(t => t.Target).ToList();
        var same = latest.Select(x => x.Result).Where(r => r.Prompts == newest.Prompts && r.ResponsesPerPrompt == newest.ResponsesPerPrompt
            && r.Seed == newest.Seed && r.Targets.Select(t => t.Target).SequenceEqual(names)).ToList();
        return new AttackEvalReport(same, names, newest.Embedder ?? ModelIdentity.BuiltIn("none", "no embedder"), store.Path, same.Sum(r => r.SampleSeconds + r.EmbedSeconds + r.Targets.Sum(t => t.Seconds)));
    }

    /// <summary>The metric stream of the latest run of a training stage (gfn, reinforce, ...), or empty.</summary>
    public static IReadOnlyList<MetricPoint> TrainingCurve(RunStore store, string runName, string stage) =>
        Runs(store, runName, stage) is { Count: > 0 } runs ? store.LoadMetrics(runs[^1].RunId, stage) : [];
}
