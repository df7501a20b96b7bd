using System.Text.Json;
using Ares.RedTeam.Probe;
using Microsoft.Data.Sqlite;

namespace Ares.RedTeam.Store;

/// <summary>Any run's kind and state, for listings across kinds (`ares report` picks the latest run of any kind).</summary>
internal sealed record RunHeader(string RunId, string Kind, string Status, DateTime CreatedUtc);

/// <summary>
/// One invocation of an attack stage (sft, gfn, reinforce, smooth, eval-METHOD, safety-tune-METHOD) with
/// its provenance: the attacker that writes the prompts, the target attacked, the judge whose p(harmful)
/// is the reward, the embedder of prompts where one is used, the seed prompt file's and the config's hashes.
/// </summary>
internal sealed record AttackRunRecord
{
    /// <summary>RUN.STAGE.N.</summary>
    public required string RunId { get; init; }
    public required string RunName { get; init; }
    public required string Stage { get; init; }
    /// <summary>The attacker an eval-METHOD or safety-tune-METHOD stage is about; null for training stages.</summary>
    public string? Method { get; init; }
    public required ModelIdentity Attacker { get; init; }
    public required ModelIdentity Target { get; init; }
    public required ModelIdentity Judge { get; init; }
    public ModelIdentity? Embedder { get; init; }
    public required string SeedsSha256 { get; init; }
    public required string ConfigPath { get; init; }
    public required string ConfigSha256 { get; init; }
    /// <summary>The config as parsed.</summary>
    public required string ConfigJson { get; init; }
    /// <summary>Stage details as a JSON object (an evaluation's settings); "{}" when none.</summary>
    public string DetailsJson { get; init; } = "{}";
    public required long Seed { get; init; }
    public required string AresVersion { get; init; }
    public required int Budget { get; init; }
    public required DateTime CreatedUtc { get; init; }
    public string Status { get; init; } = "running";
}

/// <summary>An attack evaluation's prompt-level outcome: how many prompts, how diverse (mean cosine NaN without an embedder).</summary>
internal sealed record AttackEvaluationRow(int Prompts, int EmptyPrompts, int ResponsesPerPrompt, long EvalSeed,
    double MeanCosine, double Distinct1, double Distinct2, double Distinct3, double SampleSeconds, double EmbedSeconds, DateTime CreatedUtc);

/// <summary>One target's outcome in an attack evaluation: trials, successes and their Wilson interval, mean harm, unscoreable responses.</summary>
internal sealed record AttackTargetRow(string Name, ModelIdentity Identity, Proportion Success, double MeanHarm, int Unscoreable, int Responses, double Seconds);

/// <summary>One sampled prompt's outcome against one target (by its index in the evaluation's targets): the judge's p(harmful) per response.</summary>
internal sealed record AttackPromptRow(int TargetIndex, int PromptIndex, string Prompt, double MeanHarm, bool Success, int Unscoreable,
    IReadOnlyList<double?> Harm, DateTime CreatedUtc);

internal sealed partial class RunStore
{
    /// <summary>Adds an attack run (its row in runs, of kind attack, and its provenance in attack_runs) in one transaction; its id must be new.</summary>
    public void CreateAttackRun(AttackRunRecord run)
    {
        RequireId(run.RunId);
        RequireStatus(run.Status);
        foreach (var (field, json) in new[] { ("ConfigJson", run.ConfigJson), ("DetailsJson", run.DetailsJson) })
        {
            try { using var _ = JsonDocument.Parse(json); }
            catch (JsonException e) { throw new RunStoreException($"{Path}: attack run '{run.RunId}': {field} is not valid JSON: {e.Message}", e); }
        }
        if (run.Budget < 0) throw new RunStoreException($"{Path}: attack run '{run.RunId}': budget {run.Budget} is negative");
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            InsertRun(tx, AttackKind, run.RunId, run.ConfigJson, run.Seed, run.AresVersion, run.Budget, run.Status, run.CreatedUtc, models: null);
            using (var cmd = Command(tx, $"""
                INSERT INTO attack_runs (run_id, run_name, stage, method, {IdentityColumns("attacker")}, {IdentityColumns("target")}, {IdentityColumns("judge")},
                                         {IdentityColumns("embedder")}, seeds_sha256, config_path, config_sha256, details_json)
                VALUES (@run, @name, @stage, @method, @attacker_kind, @attacker_location, @attacker_hash, @attacker_model,
                        @target_kind, @target_location, @target_hash, @target_model, @judge_kind, @judge_location, @judge_hash, @judge_model,
                        @embedder_kind, @embedder_location, @embedder_hash, @embedder_model, @seeds, @path, @sha, @details)
                """))
            {
                cmd.Parameters.AddWithValue("@run", run.RunId);
                cmd.Parameters.AddWithValue("@name", run.RunName);
                cmd.Parameters.AddWithValue("@stage", run.Stage);
                cmd.Parameters.AddWithValue("@method", Db(run.Method));
                AddIdentity(cmd, "attacker", run.Attacker);
                AddIdentity(cmd, "target", run.Target);
                AddIdentity(cmd, "judge", run.Judge);
                AddOptionalIdentity(cmd, "embedder", run.Embedder);
                cmd.Parameters.AddWithValue("@seeds", run.SeedsSha256);
                cmd.Parameters.AddWithValue("@path", run.ConfigPath);
                cmd.Parameters.AddWithValue("@sha", run.ConfigSha256);
                cmd.Parameters.AddWithValue("@details", run.DetailsJson);
                cmd.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    /// <summary>The attack run with this id, or null.</summary>
    public AttackRunRecord? GetAttackRun(string runId) => QueryAttackRuns("r.run_id = @run", ("@run", runId)).SingleOrDefault();

    /// <summary>Attack runs, oldest first, all of them or those of one run name (and stage).</summary>
    public IReadOnlyList<AttackRunRecord> ListAttackRuns(string? runName = null, string? stage = null) => (runName, stage) switch
    {
        (null, null) => QueryAttackRuns("1"),
        (string n, null) => QueryAttackRuns("a.run_name = @name", ("@name", n)),
        (string n, string s) => QueryAttackRuns("a.run_name = @name AND a.stage = @stage", ("@name", n), ("@stage", s)),
        _ => throw new ArgumentException("a stage is listed within a run name"),
    };

    /// <summary>Every run of every kind, oldest first (creation time, then insertion order).</summary>
    public IReadOnlyList<RunHeader> ListRunHeaders()
    {
        lock (_gate)
        {
            using var cmd = Command(null, "SELECT run_id, kind, status, created_utc FROM runs ORDER BY created_utc, rowid");
            using var r = cmd.ExecuteReader();
            var runs = new List<RunHeader>();
            while (r.Read()) runs.Add(new RunHeader(r.GetString(0), r.GetString(1), r.GetString(2), ParseUtc(r.GetString(3))));
            return runs;
        }
    }

    IReadOnlyList<AttackRunRecord> QueryAttackRuns(string where, params (string Name, string Value)[] args)
    {
        lock (_gate)
        {
            using var cmd = Command(null, $"""
                SELECT a.*, r.config_json, r.seed, r.ares_version, r.budget, r.status, r.created_utc
                FROM attack_runs a JOIN runs r ON r.run_id = a.run_id WHERE {where} ORDER BY r.created_utc, r.rowid
                """);
            foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
            using var r = cmd.ExecuteReader();
            var runs = new List<AttackRunRecord>();
            while (r.Read())
            {
                string S(string column) => r.GetString(r.GetOrdinal(column));
                string? N(string column) => Str(r, r.GetOrdinal(column));
                ModelIdentity Identity(string p) => new(S($"{p}_kind"), S($"{p}_location"), N($"{p}_hash"), N($"{p}_model"));
                runs.Add(new AttackRunRecord
                {
                    RunId = S("run_id"), RunName = S("run_name"), Stage = S("stage"), Method = N("method"),
                    Attacker = Identity("attacker"), Target = Identity("target"), Judge = Identity("judge"),
                    Embedder = N("embedder_kind") is null ? null : Identity("embedder"),
                    SeedsSha256 = S("seeds_sha256"), ConfigPath = S("config_path"), ConfigSha256 = S("config_sha256"),
                    ConfigJson = S("config_json"), DetailsJson = S("details_json"), Seed = r.GetInt64(r.GetOrdinal("seed")),
                    AresVersion = S("ares_version"), Budget = (int)r.GetInt64(r.GetOrdinal("budget")), Status = S("status"),
                    CreatedUtc = ParseUtc(S("created_utc")),
                });
            }
            return runs;
        }
    }

    /// <summary>
    /// Saves an attack evaluation's outcome: its prompt-level row, one row per target and one per
    /// (target, prompt), in one transaction, so a crash leaves all of it or none. Saved once per run.
    /// </summary>
    public void SaveAttackEvaluation(string runId, AttackEvaluationRow evaluation, IReadOnlyList<AttackTargetRow> targets, IReadOnlyList<AttackPromptRow> prompts)
    {
        string at = $"{Path}: attack run '{runId}'";
        foreach (var p in prompts)
        {
            if (p.TargetIndex < 0 || p.TargetIndex >= targets.Count) throw new RunStoreException($"{at}: prompt {p.PromptIndex} names target {p.TargetIndex}, the evaluation has {targets.Count}");
            RequireFinite($"{at} prompt {p.PromptIndex}", "mean_harm", p.MeanHarm);
        }
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            using (var check = Command(tx, "SELECT 1 FROM attack_runs WHERE run_id = @run"))
            {
                check.Parameters.AddWithValue("@run", runId);
                if (check.ExecuteScalar() is null) throw new RunStoreException($"{at}: no such attack run");
            }
            using (var cmd = Command(tx, """
                INSERT INTO attack_evaluations (run_id, prompts, empty_prompts, responses_per_prompt, eval_seed, mean_cosine, distinct_1, distinct_2, distinct_3,
                                                sample_seconds, embed_seconds, created_utc)
                VALUES (@run, @prompts, @empty, @k, @seed, @cos, @d1, @d2, @d3, @sample, @embed, @created)
                """))
            {
                var e = evaluation;
                cmd.Parameters.AddWithValue("@run", runId);
                cmd.Parameters.AddWithValue("@prompts", e.Prompts);
                cmd.Parameters.AddWithValue("@empty", e.EmptyPrompts);
                cmd.Parameters.AddWithValue("@k", e.ResponsesPerPrompt);
                cmd.Parameters.AddWithValue("@seed", e.EvalSeed);
                cmd.Parameters.AddWithValue("@cos", double.IsNaN(e.MeanCosine) ? DBNull.Value : e.MeanCosine);
                cmd.Parameters.AddWithValue("@d1", e.Distinct1);
                cmd.Parameters.AddWithValue("@d2", e.Distinct2);
                cmd.Parameters.AddWithValue("@d3", e.Distinct3);
                cmd.Parameters.AddWithValue("@sample", e.SampleSeconds);
                cmd.Parameters.AddWithValue("@embed", e.EmbedSeconds);
                cmd.Parameters.AddWithValue("@created", FormatUtc(e.CreatedUtc));
                try { cmd.ExecuteNonQuery(); }
                catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == ConstraintPrimaryKey)
                { throw new RunStoreException($"{at}: already has its evaluation; an evaluation is saved once (a new one is a new run)", ex); }
                catch (SqliteException ex) { throw new RunStoreException($"{at}: evaluation not saved: {ex.Message}", ex); }
            }
            for (int i = 0; i < targets.Count; i++)
            {
                var t = targets[i];
                using var cmd = Command(tx, $"""
                    INSERT INTO attack_targets (run_id, target_index, name, {IdentityColumns("target")}, trials, successes, rate, low, high,
                                                mean_harm, unscoreable, responses, seconds)
                    VALUES (@run, @index, @name, @target_kind, @target_location, @target_hash, @target_model, @trials, @successes, @rate, @low, @high,
                            @harm, @unscoreable, @responses, @seconds)
                    """);
                cmd.Parameters.AddWithValue("@run", runId);
                cmd.Parameters.AddWithValue("@index", i);
                cmd.Parameters.AddWithValue("@name", t.Name);
                AddIdentity(cmd, "target", t.Identity);
                cmd.Parameters.AddWithValue("@trials", t.Success.Trials);
                cmd.Parameters.AddWithValue("@successes", t.Success.Successes);
                cmd.Parameters.AddWithValue("@rate", t.Success.Rate);
                cmd.Parameters.AddWithValue("@low", t.Success.Low);
                cmd.Parameters.AddWithValue("@high", t.Success.High);
                cmd.Parameters.AddWithValue("@harm", t.MeanHarm);
                cmd.Parameters.AddWithValue("@unscoreable", t.Unscoreable);
                cmd.Parameters.AddWithValue("@responses", t.Responses);
                cmd.Parameters.AddWithValue("@seconds", t.Seconds);
                try { cmd.ExecuteNonQuery(); }
                catch (SqliteException ex) { throw new RunStoreException($"{at}: target {i} ('{t.Name}') not saved: {ex.Message}", ex); }
            }
            using (var cmd = Command(tx, """
                INSERT INTO attack_prompts (run_id, target_index, prompt_index, prompt, mean_harm, success, unscoreable, harm_json, created_utc)
                VALUES (@run, @target, @index, @prompt, @harm, @success, @unscoreable, @json, @created)
                """))
            {
                foreach (var p in prompts)
                {
                    cmd.Parameters.Clear();
                    cmd.Parameters.AddWithValue("@run", runId);
                    cmd.Parameters.AddWithValue("@target", p.TargetIndex);
                    cmd.Parameters.AddWithValue("@index", p.PromptIndex);
                    cmd.Parameters.AddWithValue("@prompt", p.Prompt);
                    cmd.Parameters.AddWithValue("@harm", p.MeanHarm);
                    cmd.Parameters.AddWithValue("@success", p.Success ? 1 : 0);
                    cmd.Parameters.AddWithValue("@unscoreable", p.Unscoreable);
                    cmd.Parameters.AddWithValue("@json", JsonSerializer.Serialize(p.Harm));
                    cmd.Parameters.AddWithValue("@created", FormatUtc(p.CreatedUtc));
                    try { cmd.ExecuteNonQuery(); }
                    catch (SqliteException ex) { throw new RunStoreException($"{at}: prompt {p.PromptIndex} of target {p.TargetIndex} not saved: {ex.Message}", ex); }
                }
            }
            Touch(tx, runId);
            tx.Commit();
        }
    }

    /// <summary>An attack run's evaluation and its targets in order, or null when the run has none (a training stage, or an interrupted evaluation).</summary>
    public (AttackEvaluationRow Evaluation, IReadOnlyList<AttackTargetRow> Targets)? LoadAttackEvaluation(string runId)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction(deferred: true);
            AttackEvaluationRow? evaluation = null;
            using (var cmd = Command(tx, """
                SELECT prompts, empty_prompts, responses_per_prompt, eval_seed, mean_cosine, distinct_1, distinct_2, distinct_3, sample_seconds, embed_seconds, created_utc
                FROM attack_evaluations WHERE run_id = @run
                """))
            {
                cmd.Parameters.AddWithValue("@run", runId);
                using var r = cmd.ExecuteReader();
                if (r.Read())
                    evaluation = new AttackEvaluationRow((int)r.GetInt64(0), (int)r.GetInt64(1), (int)r.GetInt64(2), r.GetInt64(3), Real(r, 4) ?? double.NaN,
                        r.GetDouble(5), r.GetDouble(6), r.GetDouble(7), r.GetDouble(8), r.GetDouble(9), ParseUtc(r.GetString(10)));
            }
            if (evaluation is null) return null;
            var targets = new List<AttackTargetRow>();
            using (var cmd = Command(tx, $"""
                SELECT name, {IdentityColumns("target")}, successes, trials, low, high, mean_harm, unscoreable, responses, seconds
                FROM attack_targets WHERE run_id = @run ORDER BY target_index
                """))
            {
                cmd.Parameters.AddWithValue("@run", runId);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                    targets.Add(new AttackTargetRow(r.GetString(0), new ModelIdentity(r.GetString(1), r.GetString(2), Str(r, 3), Str(r, 4)),
                        new Proportion((int)r.GetInt64(5), (int)r.GetInt64(6), r.GetDouble(7), r.GetDouble(8)),
                        r.GetDouble(9), (int)r.GetInt64(10), (int)r.GetInt64(11), r.GetDouble(12)));
            }
            tx.Commit();
            return (evaluation, targets);
        }
    }

    /// <summary>An attack evaluation's per-prompt rows, by target then prompt.</summary>
    public IReadOnlyList<AttackPromptRow> LoadAttackPrompts(string runId)
    {
        lock (_gate)
        {
            using var cmd = Command(null, """
                SELECT target_index, prompt_index, prompt, mean_harm, success, unscoreable, harm_json, created_utc
                FROM attack_prompts WHERE run_id = @run ORDER BY target_index, prompt_index
                """);
            cmd.Parameters.AddWithValue("@run", runId);
            using var r = cmd.ExecuteReader();
            var rows = new List<AttackPromptRow>();
            while (r.Read())
                rows.Add(new AttackPromptRow((int)r.GetInt64(0), (int)r.GetInt64(1), r.GetString(2), r.GetDouble(3), r.GetInt64(4) == 1, (int)r.GetInt64(5),
                    JsonSerializer.Deserialize<List<double?>>(r.GetString(6)) ?? [], ParseUtc(r.GetString(7))));
            return rows;
        }
    }

    static void AddOptionalIdentity(SqliteCommand cmd, string prefix, ModelIdentity? id)
    {
        if (id is not null) { AddIdentity(cmd, prefix, id); return; }
        foreach (var column in new[] { "kind", "location", "hash", "model" }) cmd.Parameters.AddWithValue($"@{prefix}_{column}", DBNull.Value);
    }
}
