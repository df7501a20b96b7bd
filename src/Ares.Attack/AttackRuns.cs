using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Attack;

/// <summary>
/// Who an attack run involved, for its row in the run store: the target attacked, the judge whose
/// p(harmful) is the reward, the attacker that writes the prompts, the seed prompt file and, where
/// the stage embeds prompts, the embedder.
/// </summary>
internal sealed record AttackProvenance(ModelIdentity Target, ModelIdentity Judge, ModelIdentity Attacker, string SeedsPath, ModelIdentity? Embedder = null);

/// <summary>
/// The attack commands' records in the run store (<see cref="RunStore"/>), beside their files under OUT.
/// Every invocation of a stage is one attack run (<see cref="AttackRunRecord"/>, kind "attack"),
/// RUN.STAGE.N (N counts up, so earlier attempts stay): stages are sft, gfn, reinforce, smooth,
/// eval-METHOD and safety-tune-METHOD, each with its attacker, target, judge and embedder identities,
/// the seed file's and the config's SHA-256. Training runs stream the same metric keys as
/// OUT/metrics.jsonl under the stage's phase; an evaluation stores its outcome in the attack tables
/// (per target: trials, successes, Wilson bounds; per prompt: text, target, the judge's p(harmful) per
/// response), which <see cref="LoadEvaluation"/> turns back into an <see cref="AttackEvaluationResult"/>.
/// Responsible for run ids, provenance and that mapping; does not own the store.
/// </summary>
internal static class AttackRuns
{
    public const string EvalStagePrefix = "eval-";

    /// <summary>The runs of one stage, oldest first.</summary>
    public static IReadOnlyList<AttackRunRecord> Runs(RunStore store, string runName, string stage) => store.ListAttackRuns(runName, stage);

    /// <summary>
    /// Creates the next run of <paramref name="stage"/>, or with <paramref name="continueLatest"/> sets the
    /// latest one running again (a resumed training continues its run). Returns the run id. A run is
    /// only continued under the config it started with: a changed config would splice two different
    /// trainings into one metric stream and checkpoint.
    /// </summary>
    public static string Begin(RunStore store, AttackConfig c, string stage, AttackProvenance who, int budget, bool continueLatest = false,
        string? method = null, JsonObject? details = null)
    {
        var prior = Runs(store, c.RunName, stage);
        if (continueLatest && prior.Count > 0)
        {
            string started = prior[^1].ConfigSha256;
            if (started != c.ConfigHash)
                throw new AttackConfigException($"{c.Source}: cannot resume run '{prior[^1].RunId}': the config changed since it started " +
                    $"(config sha256 {started[..Math.Min(12, started.Length)]} then, {c.ConfigHash[..12]} now); restore the config, or train again without --resume");
            store.SetStatus(prior[^1].RunId, "running");
            return prior[^1].RunId;
        }
        string prefix = $"{c.RunName}.{stage}.";
        string id = prefix + (prior.Count == 0 ? 1 : prior.Max(r => int.TryParse(r.RunId[prefix.Length..], out int n) ? n : 0) + 1);
        store.CreateAttackRun(new AttackRunRecord
        {
            RunId = id, RunName = c.RunName, Stage = stage, Method = method,
            Attacker = who.Attacker, Target = who.Target, Judge = who.Judge, Embedder = who.Embedder,
            SeedsSha256 = ModelIdentity.ContentHashOf(who.SeedsPath), ConfigPath = c.Source, ConfigSha256 = c.ConfigHash,
            ConfigJson = c.NormalisedJson, DetailsJson = (details ?? []).ToJsonString(),
            Seed = c.Seed, AresVersion = AresRelease.Version, Budget = budget, CreatedUtc = DateTime.UtcNow,
        });
        return id;
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

    /// <summary>Stores one method's evaluation as run RUN.eval-METHOD.N (complete), its targets' outcomes and every prompt row; returns its id.</summary>
    public static string RecordEvaluation(RunStore store, AttackConfig c, AttackEvaluationResult r, ModelIdentity mainTarget, string seedsPath)
    {
        string id = Begin(store, c, EvalStagePrefix + r.Source.Method, new AttackProvenance(mainTarget, r.Judge, r.Source.Attacker, seedsPath, r.Embedder), r.Prompts,
            method: r.Source.Method);
        return Track(store, id, () =>
        {
            var d = r.Diversity;
            var index = r.Targets.Select((t, i) => (t.Target, i)).ToDictionary(x => x.Target, x => x.i);
            var promptIndex = new Dictionary<string, int>();   // per target, prompts in sampled order
            var rows = r.Rows.Select(row =>
            {
                int n = promptIndex[row.Target] = promptIndex.GetValueOrDefault(row.Target, -1) + 1;
                return new AttackPromptRow(index[row.Target], n, row.Prompt, row.MeanHarm, row.Success, row.Unscoreable, row.Harm, row.Utc);
            }).ToList();
            store.SaveAttackEvaluation(id,
                new AttackEvaluationRow(r.Prompts, r.EmptyPrompts, r.ResponsesPerPrompt, r.Seed, d.MeanPairwiseCosine, d.Distinct1, d.Distinct2, d.Distinct3,
                    r.SampleSeconds, r.EmbedSeconds, r.Utc),
                [.. r.Targets.Select(t => new AttackTargetRow(t.Target, t.Identity, t.Success, t.MeanHarm, t.UnscoreableResponses, t.Responses, t.Seconds))],
                rows);
            return id;
        });
    }

    /// <summary>An evaluation run read back: everything <see cref="RecordEvaluation"/> stored, prompt rows included; errors name the store and run.</summary>
    public static AttackEvaluationResult LoadEvaluation(RunStore store, AttackRunRecord run)
    {
        var (e, targets) = store.LoadAttackEvaluation(run.RunId)
            ?? throw new InvalidDataException($"{store.Path}: run '{run.RunId}' has no stored evaluation (an interrupted evaluation?)");
        if (run.Method is null) throw new InvalidDataException($"{store.Path}: run '{run.RunId}' names no method; not an attack evaluation");
        return new AttackEvaluationResult
        {
            Source = new AttackSource(run.Method, run.Attacker),
            Judge = run.Judge,
            Embedder = run.Embedder,
            Seed = e.EvalSeed,
            ResponsesPerPrompt = e.ResponsesPerPrompt,
            Prompts = e.Prompts,
            EmptyPrompts = e.EmptyPrompts,
            Diversity = new DiversityReport(e.Prompts, e.MeanCosine, e.Distinct1, e.Distinct2, e.Distinct3),
            Targets = [.. targets.Select(t => new TargetAttackResult(t.Name, t.Identity, t.Success, t.MeanHarm, t.Unscoreable, t.Responses, t.Seconds))],
            SampleSeconds = e.SampleSeconds,
            EmbedSeconds = e.EmbedSeconds,
            Utc = e.CreatedUtc,
            Rows = [.. store.LoadAttackPrompts(run.RunId).Select(p => new AttackResultRow(p.Prompt, targets[p.TargetIndex].Name, p.MeanHarm, p.Success, p.Unscoreable,
                p.Harm, run.Method, run.Attacker, targets[p.TargetIndex].Identity, run.Judge, e.EvalSeed, p.CreatedUtc))],
        };
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
            .OfType<AttackRunRecord>().Select(r => (Run: r, Result: LoadEvaluation(store, r))).ToList();
        if (latest.Count == 0) return null;
        var newest = latest.MaxBy(x => x.Run.CreatedUtc).Result;
        var names = newest.Targets.Select(t => t.Target).ToList();
        var same = latest.Select(x => x.Result).Where(r => r.Prompts == newest.Prompts && r.ResponsesPerPrompt == newest.ResponsesPerPrompt
            && r.Seed == newest.Seed && r.Targets.Select(t => t.Target).SequenceEqual(names)).ToList();
        return new AttackEvalReport(same, names, newest.Embedder ?? ModelIdentity.BuiltIn("none", "no embedder"), store.Path,
            same.Sum(r => r.SampleSeconds + r.EmbedSeconds + r.Targets.Sum(t => t.Seconds)));
    }

    /// <summary>The metric stream of the latest run of a training stage (gfn, reinforce, ...), or empty.</summary>
    public static IReadOnlyList<MetricPoint> TrainingCurve(RunStore store, string runName, string stage) =>
        Runs(store, runName, stage) is { Count: > 0 } runs ? store.LoadMetrics(runs[^1].RunId, stage) : [];
}
