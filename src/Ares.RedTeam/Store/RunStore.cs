using System.Globalization;
using System.Text.Json;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;
using Microsoft.Data.Sqlite;

namespace Ares.RedTeam.Store;

/// <summary>A run store that cannot do what was asked; the message names the file, and the run and case where there is one.</summary>
internal sealed class RunStoreException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>One value of the metric stream: what a phase (probe, rm_repair, gflownet, ...) logged under a key at a step.</summary>
internal sealed record MetricPoint(string Phase, long Step, string Key, double Value, DateTime Utc);

/// <summary>
/// The discovery run store: one SQLite file with runs (and their provenance), probed cases, the
/// policy responses of each case, and an append-only metric stream. Responsible for: durable,
/// atomic, exact persistence (what <see cref="SaveCase"/> writes, <see cref="LoadCases"/> returns
/// equal). Does not own: probing, scoring, classifying.
/// <para>
/// Durability: WAL journal with <c>synchronous=NORMAL</c>. A commit reaches the WAL file before
/// <see cref="SaveCase"/> returns, so it survives the process being killed (kill -9); only an OS
/// crash or power loss can lose the last few commits, never corrupting the file, and a resumed run
/// redoes exactly those cases (<see cref="CompletedIndices"/>). FULL would fsync once per case for
/// no gain against process crashes, the failure a long probe run actually meets.
/// </para>
/// Thread-safe: one connection, every call under a lock (a SQLite connection is not thread-safe).
/// Other connections, in this process or another, may read while this one writes (WAL).
/// </summary>
internal sealed partial class RunStore : IDisposable
{
    /// <summary>The schema this build writes; <c>PRAGMA user_version</c> of the file.</summary>
    public const int SchemaVersion = 3;
    public static readonly IReadOnlyList<string> Statuses = ["running", "complete", "failed"];
    /// <summary>The run kinds, a column of every run: a discovery probe, an `ares eval` benchmark run, an attack stage.</summary>
    public const string DiscoveryKind = RunInfo.DiscoveryKind, EvalKind = RunInfo.EvalKind, AttackKind = "attack";

    /// <summary>How long a call waits for another connection's write lock before failing.</summary>
    const int BusyTimeoutMs = 10_000;
    const string UtcFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    readonly SqliteConnection _db;
    readonly Lock _gate = new();

    /// <summary>The store file's full path.</summary>
    public string Path { get; }

    RunStore(string path, SqliteConnection db) { Path = path; _db = db; }

    /// <summary>
    /// Opens the store at <paramref name="path"/>, creating the file (and its folder) and the schema
    /// when <paramref name="create"/> is set; otherwise a missing file is a <see cref="FileNotFoundException"/>.
    /// </summary>
    public static RunStore Open(string path, bool create = true)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            if (!create) throw new FileNotFoundException($"{full}: no such run store", full);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        }
        var db = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            // One long-lived connection per store: pooling would only keep the file open after Dispose.
            Pooling = false,
        }.ToString());
        try
        {
            db.Open();
            Exec(db, $"PRAGMA busy_timeout = {BusyTimeoutMs}");
            RunStoreSchema.CheckVersion(db, full, null); // before anything below changes a file that is not ours
            var mode = Scalar(db, "PRAGMA journal_mode = WAL") as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                throw new RunStoreException($"{full}: cannot switch the journal to WAL (got '{mode}'); the store needs a local file system");
            Exec(db, "PRAGMA synchronous = NORMAL");
            // Migrations run with foreign keys off (the bundled SQLite turns them on by default): rebuilding a
            // table must not cascade into the rows that reference it.
            Exec(db, "PRAGMA foreign_keys = OFF");
            RunStoreSchema.Migrate(db, full);
            Exec(db, "PRAGMA foreign_keys = ON");
            return new RunStore(full, db);
        }
        catch (SqliteException e)
        {
            db.Dispose();
            throw new RunStoreException(e.SqliteErrorCode == 26 // SQLITE_NOTADB
                ? $"{full}: not an SQLite database (an Ares run store was expected)"
                : $"{full}: cannot open the run store: {e.Message}", e);
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    public void Dispose() => _db.Dispose();

    /// <summary>A PRAGMA's value on this store's connection (journal_mode, synchronous, foreign_keys, ...), for diagnostics and tests.</summary>
    internal string Pragma(string name)
    {
        if (!name.All(ch => char.IsAsciiLetter(ch) || ch == '_')) throw new ArgumentException($"'{name}' is not a pragma name");
        lock (_gate) return Convert.ToString(Scalar(_db, $"PRAGMA {name}"), CultureInfo.InvariantCulture) ?? "";
    }

    // ---- runs --------------------------------------------------------------------------------

    /// <summary>Adds a discovery or eval run; its id must be new to the store. Attack runs go through <see cref="CreateAttackRun"/>.</summary>
    public void CreateRun(RunInfo run)
    {
        RequireId(run.RunId);
        if (run.Kind is not (DiscoveryKind or EvalKind))
            throw new RunStoreException($"{Path}: run '{run.RunId}': kind '{run.Kind}' is not {DiscoveryKind} or {EvalKind} (attack runs have their own table)");
        RequireStatus(run.Status);
        try { using var _ = JsonDocument.Parse(run.ConfigJson); }
        catch (JsonException e) { throw new RunStoreException($"{Path}: run '{run.RunId}': ConfigJson is not valid JSON: {e.Message}", e); }
        if (run.Budget < 0) throw new RunStoreException($"{Path}: run '{run.RunId}': budget {run.Budget} is negative");

        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            InsertRun(tx, run.Kind, run.RunId, run.ConfigJson, run.Seed, run.AresVersion, run.Budget, run.Status, run.CreatedUtc, run);
            tx.Commit();
        }
    }

    /// <summary>
    /// The row in runs every kind has; a discovery or eval run (<paramref name="models"/>) also names its
    /// policy, reward model, judge, mentor and catalog there, an attack run in attack_runs instead.
    /// </summary>
    void InsertRun(SqliteTransaction tx, string kind, string runId, string configJson, long seed, string aresVersion, int budget, string status,
        DateTime createdUtc, RunInfo? models)
    {
        string[] roles = ["policy", "rm", "judge", "mentor"];
        string columns = models is null ? "" : $", {string.Join(", ", roles.Select(IdentityColumns))}, catalog_version";
        string values = models is null ? "" : $", {string.Join(", ", roles.SelectMany(p => IdentityColumns(p).Split(", ")).Select(c => "@" + c))}, @catalog";
        using var cmd = Command(tx, $"""
            INSERT INTO runs (run_id, kind, config_json, seed, ares_version, budget, status, created_utc, updated_utc{columns})
            VALUES (@run, @kind, @config, @seed, @ares, @budget, @status, @created, @created{values})
            """);
        cmd.Parameters.AddWithValue("@run", runId);
        cmd.Parameters.AddWithValue("@kind", kind);
        cmd.Parameters.AddWithValue("@config", configJson);
        cmd.Parameters.AddWithValue("@seed", seed);
        cmd.Parameters.AddWithValue("@ares", aresVersion);
        cmd.Parameters.AddWithValue("@budget", budget);
        cmd.Parameters.AddWithValue("@status", status);
        cmd.Parameters.AddWithValue("@created", FormatUtc(createdUtc));
        if (models is not null)
        {
            AddIdentity(cmd, "policy", models.Policy);
            AddIdentity(cmd, "rm", models.RewardModel);
            AddIdentity(cmd, "judge", models.Judge);
            AddIdentity(cmd, "mentor", models.Mentor);
            cmd.Parameters.AddWithValue("@catalog", models.CatalogVersion);
        }
        try { cmd.ExecuteNonQuery(); }
        catch (SqliteException e) when (e.SqliteExtendedErrorCode == ConstraintPrimaryKey)
        { throw new RunStoreException($"{Path}: a run with id '{runId}' already exists", e); }
    }

    /// <summary>The discovery or eval run with this id, or null (also for an attack run: <see cref="GetAttackRun"/>).</summary>
    public RunInfo? GetRun(string runId)
    {
        lock (_gate)
        {
            using var cmd = Command(null, $"SELECT * FROM runs WHERE run_id = @run AND kind <> '{AttackKind}'");
            cmd.Parameters.AddWithValue("@run", runId);
            using var r = cmd.ExecuteReader();
            return r.Read() ? ReadRun(r) : null;
        }
    }

    /// <summary>
    /// The stored run to continue, or null for a new one; refuses a run that exists without
    /// <paramref name="resume"/>, a resume of a run that does not exist, and a resume whose config
    /// (<paramref name="normalisedConfig"/>, read from <paramref name="configSource"/>) has changed.
    /// </summary>
    public RunInfo? RunToContinue(string storePath, string runId, bool resume, string configSource, string normalisedConfig)
    {
        var existing = GetRun(runId);
        if (existing is not null && !resume)
            throw new InvalidOperationException($"{storePath}: run '{runId}' already exists ({existing.Status}); pass --resume to continue it, or set a new \"run\" in {configSource}");
        if (existing is null && resume)
            throw new InvalidOperationException($"{storePath}: no run '{runId}' to resume (runs in the store: {(ListRuns() is { Count: > 0 } runs ? string.Join(", ", runs.Select(r => r.RunId)) : "none")})");
        if (existing is not null && existing.ConfigJson != normalisedConfig)
            throw new InvalidOperationException($"{configSource} has changed since run '{runId}' started; resume with the original config or start a new run");
        return existing;
    }

    /// <summary>The discovery and eval runs, oldest first (creation time, then insertion order): the last is the most recent.</summary>
    public IReadOnlyList<RunInfo> ListRuns()
    {
        lock (_gate)
        {
            using var cmd = Command(null, $"SELECT * FROM runs WHERE kind <> '{AttackKind}' ORDER BY created_utc, rowid");
            using var r = cmd.ExecuteReader();
            var runs = new List<RunInfo>();
            while (r.Read()) runs.Add(ReadRun(r));
            return runs;
        }
    }

    /// <summary>Sets a run's status ("running", "complete" or "failed") and its update time.</summary>
    public void SetStatus(string runId, string status)
    {
        RequireStatus(status);
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            RequireRun(tx, runId);
            using var cmd = Command(tx, "UPDATE runs SET status = @status, updated_utc = @now WHERE run_id = @run");
            cmd.Parameters.AddWithValue("@status", status);
            cmd.Parameters.AddWithValue("@now", FormatUtc(DateTime.UtcNow));
            cmd.Parameters.AddWithValue("@run", runId);
            cmd.ExecuteNonQuery();
            tx.Commit();
        }
    }

    // ---- cases -------------------------------------------------------------------------------

    /// <summary>
    /// Saves a case and all its responses in one transaction: after a crash at any point the store
    /// holds either the whole case or nothing of it. A case index is saved once; saving it again throws.
    /// </summary>
    public void SaveCase(string runId, ProbeCase c)
    {
        ValidateCase(runId, c);
        lock (_gate)
        {
            // BEGIN IMMEDIATE (the default): takes the write lock up front, so a concurrent writer
            // waits for the busy timeout instead of failing halfway through the case.
            using var tx = _db.BeginTransaction();
            RequireRun(tx, runId);
            using (var cmd = Command(tx, """
                INSERT INTO cases (run_id, case_index, topic, persona, tactic, goal, seed, prompt, malicious, safe,
                                   mentor_failure, mentor_attempts, reward_malicious, reward_safe, class, created_utc)
                VALUES (@run, @index, @topic, @persona, @tactic, @goal, @seed, @prompt, @malicious, @safe,
                        @failure, @attempts, @rmal, @rsafe, @class, @created)
                """))
            {
                cmd.Parameters.AddWithValue("@run", runId);
                cmd.Parameters.AddWithValue("@index", c.Index);
                cmd.Parameters.AddWithValue("@topic", c.Components.Topic);
                cmd.Parameters.AddWithValue("@persona", c.Components.Persona);
                cmd.Parameters.AddWithValue("@tactic", c.Components.Tactic);
                cmd.Parameters.AddWithValue("@goal", c.Components.Goal);
                cmd.Parameters.AddWithValue("@seed", c.Seed);
                cmd.Parameters.AddWithValue("@prompt", Db(c.Case?.Prompt));
                cmd.Parameters.AddWithValue("@malicious", Db(c.Case?.MaliciousResponse));
                cmd.Parameters.AddWithValue("@safe", Db(c.Case?.SafeResponse));
                cmd.Parameters.AddWithValue("@failure", Db(c.MentorFailure));
                cmd.Parameters.AddWithValue("@attempts", c.MentorAttempts);
                cmd.Parameters.AddWithValue("@rmal", Db(c.RewardMalicious));
                cmd.Parameters.AddWithValue("@rsafe", Db(c.RewardSafe));
                cmd.Parameters.AddWithValue("@class", Db(c.Class?.SnakeName()));
                cmd.Parameters.AddWithValue("@created", FormatUtc(c.CreatedUtc));
                try { cmd.ExecuteNonQuery(); }
                catch (SqliteException e) when (e.SqliteExtendedErrorCode == ConstraintPrimaryKey)
                { throw new RunStoreException($"{Path}: run '{runId}' already has case {c.Index}; a case is saved once (a resumed run skips CompletedIndices)", e); }
                catch (SqliteException e)
                { throw new RunStoreException($"{Path}: run '{runId}' case {c.Index} not saved: {e.Message}", e); }
            }
            using (var cmd = Command(tx, """
                INSERT INTO responses (run_id, case_index, sample, text, finish_reason, error, harm_probability, judge_rationale, reward)
                VALUES (@run, @index, @sample, @text, @finish, @error, @harm, @rationale, @reward)
                """))
            {
                foreach (var resp in c.Responses)
                {
                    cmd.Parameters.Clear();
                    cmd.Parameters.AddWithValue("@run", runId);
                    cmd.Parameters.AddWithValue("@index", c.Index);
                    cmd.Parameters.AddWithValue("@sample", resp.Sample);
                    cmd.Parameters.AddWithValue("@text", Db(resp.Text));
                    cmd.Parameters.AddWithValue("@finish", Db(resp.FinishReason));
                    cmd.Parameters.AddWithValue("@error", Db(resp.Error));
                    cmd.Parameters.AddWithValue("@harm", Db(resp.HarmProbability));
                    cmd.Parameters.AddWithValue("@rationale", Db(resp.JudgeRationale));
                    cmd.Parameters.AddWithValue("@reward", Db(resp.Reward));
                    try { cmd.ExecuteNonQuery(); }
                    catch (SqliteException e)
                    {
                        string why = e.SqliteExtendedErrorCode == ConstraintPrimaryKey ? "the sample number appears twice" : e.Message;
                        throw new RunStoreException($"{Path}: run '{runId}' case {c.Index} not saved: response sample {resp.Sample}: {why}", e);
                    }
                }
            }
            Touch(tx, runId);
            tx.Commit();
        }
    }

    /// <summary>The run's cases ordered by index, each with its responses in the order they were saved.</summary>
    public IReadOnlyList<ProbeCase> LoadCases(string runId)
    {
        lock (_gate)
        {
            // One read snapshot for cases and responses, whatever another connection commits meanwhile.
            using var tx = _db.BeginTransaction(deferred: true);
            RequireRun(tx, runId);
            var responses = new Dictionary<long, List<ProbeResponse>>();
            using (var cmd = Command(tx, """
                SELECT case_index, sample, text, finish_reason, error, harm_probability, judge_rationale, reward
                FROM responses WHERE run_id = @run ORDER BY case_index, rowid
                """))
            {
                cmd.Parameters.AddWithValue("@run", runId);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    long index = r.GetInt64(0);
                    if (!responses.TryGetValue(index, out var list)) responses[index] = list = [];
                    list.Add(new ProbeResponse((int)r.GetInt64(1), Str(r, 2), Str(r, 3), Str(r, 4), Real(r, 5), Str(r, 6), Real(r, 7)));
                }
            }
            var cases = new List<ProbeCase>();
            using (var cmd = Command(tx, """
                SELECT case_index, topic, persona, tactic, goal, seed, prompt, malicious, safe,
                       mentor_failure, mentor_attempts, reward_malicious, reward_safe, class, created_utc
                FROM cases WHERE run_id = @run ORDER BY case_index
                """))
            {
                cmd.Parameters.AddWithValue("@run", runId);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    long index = r.GetInt64(0);
                    var tuple = new ComponentTuple(r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4));
                    var prompt = Str(r, 6);
                    cases.Add(new ProbeCase
                    {
                        Index = (int)index,
                        Components = tuple,
                        Seed = r.GetInt64(5),
                        Case = prompt is null ? null : new MentorCase(tuple, prompt, r.GetString(7), r.GetString(8)),
                        MentorFailure = Str(r, 9),
                        MentorAttempts = (int)r.GetInt64(10),
                        RewardMalicious = Real(r, 11),
                        RewardSafe = Real(r, 12),
                        Class = Str(r, 13) is { } k ? FailureClassNames.Parse(k) : null,
                        CreatedUtc = ParseUtc(r.GetString(14)),
                        Responses = responses.TryGetValue(index, out var list) ? list : [],
                    });
                }
            }
            tx.Commit();
            return cases;
        }
    }

    /// <summary>The indices of the run's saved cases (mentor failures included), ascending: what a resumed run skips.</summary>
    public IReadOnlySet<int> CompletedIndices(string runId)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction(deferred: true);
            RequireRun(tx, runId);
            using var cmd = Command(tx, "SELECT case_index FROM cases WHERE run_id = @run");
            cmd.Parameters.AddWithValue("@run", runId);
            using var r = cmd.ExecuteReader();
            var done = new SortedSet<int>();
            while (r.Read()) done.Add((int)r.GetInt64(0));
            return done;
        }
    }

    // ---- metrics -----------------------------------------------------------------------------

    /// <summary>
    /// Appends one step's metrics for a phase (one transaction). NaN is kept (stored as NULL, since
    /// SQLite has no NaN) because a diverging loss is exactly what the stream must show.
    /// </summary>
    public void AppendMetrics(string runId, string phase, long step, IReadOnlyDictionary<string, double> values)
    {
        if (string.IsNullOrWhiteSpace(phase)) throw new RunStoreException($"{Path}: run '{runId}': metric phase is empty");
        foreach (var key in values.Keys)
            if (string.IsNullOrWhiteSpace(key)) throw new RunStoreException($"{Path}: run '{runId}' phase '{phase}' step {step}: empty metric key");
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            RequireRun(tx, runId);
            using var cmd = Command(tx, "INSERT INTO metrics (run_id, phase, step, key, value, created_utc) VALUES (@run, @phase, @step, @key, @value, @now)");
            string now = FormatUtc(DateTime.UtcNow);
            foreach (var (key, value) in values)
            {
                cmd.Parameters.Clear();
                cmd.Parameters.AddWithValue("@run", runId);
                cmd.Parameters.AddWithValue("@phase", phase);
                cmd.Parameters.AddWithValue("@step", step);
                cmd.Parameters.AddWithValue("@key", key);
                cmd.Parameters.AddWithValue("@value", double.IsNaN(value) ? DBNull.Value : value);
                cmd.Parameters.AddWithValue("@now", now);
                cmd.ExecuteNonQuery();
            }
            Touch(tx, runId);
            tx.Commit();
        }
    }

    /// <summary>
    /// Deletes one phase's metrics of a run: a stage that is redone after a crash (e.g. a repair
    /// interrupted mid-training) first clears its partial stream, so the stored curve is one attempt's.
    /// With <paramref name="fromStep"/> only steps ≥ it go: a run resumed from a checkpoint at that step
    /// drops what it logged after the checkpoint and logs those steps again.
    /// </summary>
    public int DeleteMetrics(string runId, string phase, long fromStep = long.MinValue)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            RequireRun(tx, runId);
            using var cmd = Command(tx, "DELETE FROM metrics WHERE run_id = @run AND phase = @phase AND step >= @from");
            cmd.Parameters.AddWithValue("@run", runId);
            cmd.Parameters.AddWithValue("@phase", phase);
            cmd.Parameters.AddWithValue("@from", fromStep);
            int n = cmd.ExecuteNonQuery();
            Touch(tx, runId);
            tx.Commit();
            return n;
        }
    }

    /// <summary>The run's metrics in the order appended, all phases or one.</summary>
    public IReadOnlyList<MetricPoint> LoadMetrics(string runId, string? phase = null)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction(deferred: true);
            RequireRun(tx, runId);
            using var cmd = Command(tx, $"SELECT phase, step, key, value, created_utc FROM metrics WHERE run_id = @run {(phase is null ? "" : "AND phase = @phase")} ORDER BY id");
            cmd.Parameters.AddWithValue("@run", runId);
            if (phase is not null) cmd.Parameters.AddWithValue("@phase", phase);
            using var r = cmd.ExecuteReader();
            var points = new List<MetricPoint>();
            while (r.Read())
                points.Add(new MetricPoint(r.GetString(0), r.GetInt64(1), r.GetString(2), Real(r, 3) ?? double.NaN, ParseUtc(r.GetString(4))));
            return points;
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    const int ConstraintPrimaryKey = 1555; // SQLITE_CONSTRAINT_PRIMARYKEY

    static string IdentityColumns(string p) => $"{p}_kind, {p}_location, {p}_hash, {p}_model";

    SqliteCommand Command(SqliteTransaction? tx, string sql) => Command(_db, tx, sql);

    internal static SqliteCommand Command(SqliteConnection db, SqliteTransaction? tx, string sql)
    {
        var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        return cmd;
    }

    internal static void Exec(SqliteConnection db, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = Command(db, tx, sql);
        cmd.ExecuteNonQuery();
    }

    internal static object? Scalar(SqliteConnection db, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = Command(db, tx, sql);
        return cmd.ExecuteScalar();
    }

    void RequireRun(SqliteTransaction tx, string runId)
    {
        using var cmd = Command(tx, "SELECT 1 FROM runs WHERE run_id = @run");
        cmd.Parameters.AddWithValue("@run", runId);
        if (cmd.ExecuteScalar() is null)
        {
            using var all = Command(tx, "SELECT group_concat(run_id, ', ') FROM (SELECT run_id FROM runs ORDER BY created_utc, rowid)");
            string known = all.ExecuteScalar() as string ?? "none";
            throw new RunStoreException($"{Path}: no run '{runId}' (runs: {known})");
        }
    }

    void Touch(SqliteTransaction tx, string runId)
    {
        using var cmd = Command(tx, "UPDATE runs SET updated_utc = @now WHERE run_id = @run");
        cmd.Parameters.AddWithValue("@now", FormatUtc(DateTime.UtcNow));
        cmd.Parameters.AddWithValue("@run", runId);
        cmd.ExecuteNonQuery();
    }

    void RequireId(string runId)
    {
        if (string.IsNullOrWhiteSpace(runId)) throw new RunStoreException($"{Path}: run id is empty");
    }

    void RequireStatus(string status)
    {
        if (!Statuses.Contains(status))
            throw new RunStoreException($"{Path}: run status '{status}' is not one of {string.Join(", ", Statuses)}");
    }

    /// <summary>The record invariants of <see cref="ProbeCase"/>, checked before anything is written.</summary>
    void ValidateCase(string runId, ProbeCase c)
    {
        string at = $"{Path}: run '{runId}' case {c.Index}";
        if (c.Index < 0) throw new RunStoreException($"{at}: index is negative");
        if ((c.Case is null) == (c.MentorFailure is null))
            throw new RunStoreException($"{at}: expected either a mentor case or a mentor failure, got {(c.Case is null ? "neither" : "both")}");
        if (c.Case is { } m && m.Components != c.Components)
            throw new RunStoreException($"{at}: the mentor case's components {m.Components} differ from the case's {c.Components}");
        if (c.MentorFailure is not null && (c.Class is not null || c.Responses.Count > 0))
            throw new RunStoreException($"{at}: a mentor failure has no class and no responses");
        if (c.Case is not null && c.Class is null)
            throw new RunStoreException($"{at}: a composed case needs a class (unscored when nothing could be judged)");
        if (c.MentorAttempts < 1) throw new RunStoreException($"{at}: mentor attempts {c.MentorAttempts} < 1");
        RequireFinite(at, "reward_malicious", c.RewardMalicious);
        RequireFinite(at, "reward_safe", c.RewardSafe);
        foreach (var r in c.Responses)
        {
            RequireFinite($"{at} response {r.Sample}", "harm_probability", r.HarmProbability);
            RequireFinite($"{at} response {r.Sample}", "reward", r.Reward);
        }
    }

    /// <summary>SQLite turns NaN into NULL and JSON has no infinities, so a non-finite score would not round-trip.</summary>
    static void RequireFinite(string at, string field, double? value)
    {
        if (value is double v && !double.IsFinite(v)) throw new RunStoreException($"{at}: {field} is {v}; scores must be finite");
    }

    static void AddIdentity(SqliteCommand cmd, string prefix, ModelIdentity id)
    {
        cmd.Parameters.AddWithValue($"@{prefix}_kind", id.Kind);
        cmd.Parameters.AddWithValue($"@{prefix}_location", id.Location);
        cmd.Parameters.AddWithValue($"@{prefix}_hash", Db(id.ContentHash));
        cmd.Parameters.AddWithValue($"@{prefix}_model", Db(id.ModelName));
    }

    static RunInfo ReadRun(SqliteDataReader r)
    {
        string S(string column) => r.GetString(r.GetOrdinal(column));
        string? N(string column) => Str(r, r.GetOrdinal(column));
        ModelIdentity Identity(string p) => new(S($"{p}_kind"), S($"{p}_location"), N($"{p}_hash"), N($"{p}_model"));
        return new RunInfo
        {
            RunId = S("run_id"),
            Kind = S("kind"),
            ConfigJson = S("config_json"),
            Seed = r.GetInt64(r.GetOrdinal("seed")),
            AresVersion = S("ares_version"),
            Policy = Identity("policy"),
            RewardModel = Identity("rm"),
            Judge = Identity("judge"),
            Mentor = Identity("mentor"),
            CatalogVersion = S("catalog_version"),
            Budget = (int)r.GetInt64(r.GetOrdinal("budget")),
            Status = S("status"),
            CreatedUtc = ParseUtc(S("created_utc")),
        };
    }

    static object Db(object? value) => value ?? DBNull.Value;
    static string? Str(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    static double? Real(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);

    /// <summary>ISO-8601 UTC with 100 ns ticks, so a time round-trips exactly and text order is time order. Unspecified kind is taken as UTC.</summary>
    internal static string FormatUtc(DateTime t) =>
        (t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t).ToString(UtcFormat, CultureInfo.InvariantCulture);

    internal static DateTime ParseUtc(string s) =>
        DateTime.ParseExact(s, UtcFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
