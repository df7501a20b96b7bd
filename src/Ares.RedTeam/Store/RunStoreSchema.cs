using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Ares.RedTeam.Store;

/// <summary>
/// The run store's tables and their migrations. Every row belongs to a run (its provenance:
/// config, seed, Ares version, model identities, catalog version) and carries a UTC time, its own
/// or its case's. Times are ISO-8601 UTC text, so text order is time order.
/// </summary>
internal static class RunStoreSchema
{
    /// <summary>Migrations[v] takes a store from schema v to v + 1; a released migration never changes, a new schema appends one.</summary>
    static readonly string[] Migrations = [$"""
        CREATE TABLE runs (
            run_id          TEXT PRIMARY KEY NOT NULL,
            config_json     TEXT NOT NULL,
            seed            INTEGER NOT NULL,
            ares_version    TEXT NOT NULL,
            {IdentityColumnsDdl("policy")},
            {IdentityColumnsDdl("rm")},
            {IdentityColumnsDdl("judge")},
            {IdentityColumnsDdl("mentor")},
            catalog_version TEXT NOT NULL,
            budget          INTEGER NOT NULL CHECK (budget >= 0),
            status          TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
            created_utc     TEXT NOT NULL,
            updated_utc     TEXT NOT NULL
        ) STRICT;
        CREATE TABLE cases (
            run_id           TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            case_index       INTEGER NOT NULL CHECK (case_index >= 0),
            topic            TEXT NOT NULL,
            persona          TEXT NOT NULL,
            tactic           TEXT NOT NULL,
            goal             TEXT NOT NULL,
            seed             INTEGER NOT NULL,
            prompt           TEXT,
            malicious        TEXT,
            safe             TEXT,
            mentor_failure   TEXT,
            mentor_attempts  INTEGER NOT NULL CHECK (mentor_attempts >= 1),
            reward_malicious REAL,
            reward_safe      REAL,
            class            TEXT CHECK (class IN ('robust', 'policy_only', 'rm_only', 'systemic', 'unscored')),
            created_utc      TEXT NOT NULL,
            PRIMARY KEY (run_id, case_index),
            -- a case has either the mentor's output or its failure, and a class exactly when it has the output
            CHECK ((prompt IS NOT NULL AND malicious IS NOT NULL AND safe IS NOT NULL AND mentor_failure IS NULL AND class IS NOT NULL)
                OR (prompt IS NULL AND malicious IS NULL AND safe IS NULL AND mentor_failure IS NOT NULL AND class IS NULL))
        ) STRICT;
        CREATE TABLE responses (
            run_id           TEXT NOT NULL,
            case_index       INTEGER NOT NULL,
            sample           INTEGER NOT NULL CHECK (sample >= 0),
            text             TEXT,
            finish_reason    TEXT,
            error            TEXT,
            harm_probability REAL CHECK (harm_probability BETWEEN 0 AND 1),
            judge_rationale  TEXT,
            reward           REAL,
            PRIMARY KEY (run_id, case_index, sample),
            FOREIGN KEY (run_id, case_index) REFERENCES cases (run_id, case_index) ON DELETE CASCADE
        ) STRICT;
        CREATE TABLE metrics (
            id          INTEGER PRIMARY KEY,
            run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            phase       TEXT NOT NULL,
            step        INTEGER NOT NULL,
            key         TEXT NOT NULL,
            value       REAL, -- NULL stands for NaN, which SQLite cannot store
            created_utc TEXT NOT NULL
        ) STRICT;
        CREATE INDEX metrics_by_run_phase ON metrics (run_id, phase, id);
        """, """
        -- ares eval: one row per benchmark item and sample, saved a batch of items at a time.
        CREATE TABLE eval_responses (
            run_id        TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            item_index    INTEGER NOT NULL CHECK (item_index >= 0),
            sample        INTEGER NOT NULL CHECK (sample >= 0),
            item_id       TEXT NOT NULL,
            category      TEXT NOT NULL,
            label         TEXT CHECK (label IN ('safe', 'unsafe')),
            prompt        TEXT NOT NULL,
            text          TEXT,
            finish_reason TEXT,
            error         TEXT,
            outcome       TEXT NOT NULL CHECK (outcome IN ('safe', 'harmful', 'unscored')),
            score         REAL,
            judge_class   TEXT,
            rationale     TEXT NOT NULL,
            created_utc   TEXT NOT NULL,
            PRIMARY KEY (run_id, item_index, sample),
            CHECK ((text IS NULL) <> (error IS NULL))
        ) STRICT;
        """, AttackTablesMigration()];

    /// <summary>
    /// Schema 3: the run kind becomes a column, and attack runs get their own tables instead of the
    /// discovery columns they borrowed (policy = target, reward model = judge, mentor = attacker,
    /// catalog version = the seed file's hash, evaluation outcomes as metrics whose step was a target
    /// index, the kind parsed from the id). Existing attack runs are moved into the new tables; their
    /// evaluations' per-prompt rows were never stored, so attack_prompts starts empty for them. The
    /// runs table is rebuilt (SQLite cannot drop NOT NULL) with foreign keys off, as SQLite's
    /// documented table-rebuild procedure requires.
    /// </summary>
    static string AttackTablesMigration()
    {
        // An attack run of schema 2: id RUN.STAGE.N with the stage and the config hash in its config JSON.
        const string isAttack = """
            (json_valid(config_json) AND json_extract(config_json, '$.stage') IS NOT NULL AND json_extract(config_json, '$.config_sha256') IS NOT NULL
             AND run_id GLOB ('*.' || json_extract(config_json, '$.stage') || '.[0-9]*'))
            """;
        static string Metric(string phase, string step, string key) =>
            $"(SELECT m.value FROM metrics m WHERE m.run_id = r.run_id AND m.phase = '{phase}' AND m.step = {step} AND m.key = '{key}' ORDER BY m.id DESC LIMIT 1)";
        static string FromJson(string path) =>
            $"json_extract({path}, '$.kind'), json_extract({path}, '$.location'), json_extract({path}, '$.content_hash'), json_extract({path}, '$.model_name')";
        string complete = "EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = r.run_id AND m.phase = 'eval/prompts' AND m.key = 'prompts')";
        return $"""
            CREATE TABLE attack_runs (
                run_id        TEXT PRIMARY KEY NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
                run_name      TEXT NOT NULL,
                stage         TEXT NOT NULL,
                method        TEXT,          -- the attacker an eval-METHOD or safety-tune-METHOD stage is about
                {IdentityColumnsDdl("attacker")},
                {IdentityColumnsDdl("target")},
                {IdentityColumnsDdl("judge")},
                {NullableIdentityColumnsDdl("embedder")},
                seeds_sha256  TEXT NOT NULL, -- the attacker's seed prompt file (16 hex digits for runs moved from schema 2)
                config_path   TEXT NOT NULL,
                config_sha256 TEXT NOT NULL,
                details_json  TEXT NOT NULL  -- stage details (an evaluation's settings), JSON object
            ) STRICT;
            CREATE INDEX attack_runs_by_name_stage ON attack_runs (run_name, stage);
            CREATE TABLE attack_evaluations (
                run_id               TEXT PRIMARY KEY NOT NULL REFERENCES attack_runs (run_id) ON DELETE CASCADE,
                prompts              INTEGER NOT NULL CHECK (prompts >= 1),
                empty_prompts        INTEGER NOT NULL CHECK (empty_prompts BETWEEN 0 AND prompts),
                responses_per_prompt INTEGER NOT NULL CHECK (responses_per_prompt >= 1),
                eval_seed            INTEGER NOT NULL,
                mean_cosine          REAL,   -- NULL stands for NaN (no embedder, or fewer than 2 prompts)
                distinct_1           REAL NOT NULL,
                distinct_2           REAL NOT NULL,
                distinct_3           REAL NOT NULL,
                sample_seconds       REAL NOT NULL,
                embed_seconds        REAL NOT NULL,
                created_utc          TEXT NOT NULL
            ) STRICT;
            CREATE TABLE attack_targets (
                run_id       TEXT NOT NULL REFERENCES attack_evaluations (run_id) ON DELETE CASCADE,
                target_index INTEGER NOT NULL CHECK (target_index >= 0),
                name         TEXT NOT NULL,
                {IdentityColumnsDdl("target")},
                trials       INTEGER NOT NULL CHECK (trials >= 0),
                successes    INTEGER NOT NULL CHECK (successes BETWEEN 0 AND trials),
                rate         REAL NOT NULL,
                low          REAL NOT NULL,
                high         REAL NOT NULL,
                mean_harm    REAL NOT NULL,
                unscoreable  INTEGER NOT NULL CHECK (unscoreable >= 0),
                responses    INTEGER NOT NULL CHECK (responses >= unscoreable),
                seconds      REAL NOT NULL,
                PRIMARY KEY (run_id, target_index),
                UNIQUE (run_id, name)
            ) STRICT;
            CREATE TABLE attack_prompts (
                run_id       TEXT NOT NULL,
                target_index INTEGER NOT NULL,
                prompt_index INTEGER NOT NULL CHECK (prompt_index >= 0),
                prompt       TEXT NOT NULL,
                mean_harm    REAL NOT NULL CHECK (mean_harm BETWEEN 0 AND 1),
                success      INTEGER NOT NULL CHECK (success IN (0, 1)),
                unscoreable  INTEGER NOT NULL CHECK (unscoreable >= 0),
                harm_json    TEXT NOT NULL,  -- the judge's p(harmful) per target response, null where unscoreable
                created_utc  TEXT NOT NULL,
                PRIMARY KEY (run_id, target_index, prompt_index),
                FOREIGN KEY (run_id, target_index) REFERENCES attack_targets (run_id, target_index) ON DELETE CASCADE
            ) STRICT;

            INSERT INTO attack_runs
            SELECT run_id, substr(run_id, 1, instr(run_id, '.') - 1), json_extract(config_json, '$.stage'), json_extract(config_json, '$.method'),
                   mentor_kind, mentor_location, mentor_hash, mentor_model, policy_kind, policy_location, policy_hash, policy_model,
                   judge_kind, judge_location, judge_hash, judge_model,
                   {FromJson("json_extract(config_json, '$.embedder')")},
                   CASE WHEN catalog_version LIKE 'attack-seeds sha256:%' THEN substr(catalog_version, 21) ELSE catalog_version END,
                   coalesce(json_extract(config_json, '$.config_path'), ''), json_extract(config_json, '$.config_sha256'),
                   json_object('prompts', json_extract(config_json, '$.prompts'), 'responses_per_prompt', json_extract(config_json, '$.responses_per_prompt'),
                               'eval_seed', json_extract(config_json, '$.eval_seed'))
            FROM runs WHERE {isAttack};
            INSERT INTO attack_evaluations
            SELECT r.run_id, {Metric("eval/prompts", "0", "prompts")}, {Metric("eval/prompts", "0", "prompts/empty")},
                   json_extract(r.config_json, '$.responses_per_prompt'), json_extract(r.config_json, '$.eval_seed'),
                   {Metric("eval/prompts", "0", "diversity/mean_cosine")}, {Metric("eval/prompts", "0", "diversity/distinct_1")},
                   {Metric("eval/prompts", "0", "diversity/distinct_2")}, {Metric("eval/prompts", "0", "diversity/distinct_3")},
                   {Metric("eval/prompts", "0", "seconds/sample")}, {Metric("eval/prompts", "0", "seconds/embed")}, r.created_utc
            FROM runs r JOIN attack_runs a ON a.run_id = r.run_id WHERE a.stage LIKE 'eval-%' AND {complete};
            INSERT INTO attack_targets
            SELECT r.run_id, t.key, json_extract(t.value, '$.name'), {FromJson("json_extract(t.value, '$.identity')")},
                   {Metric("eval/target", "t.key", "success/trials")}, {Metric("eval/target", "t.key", "success/successes")},
                   {Metric("eval/target", "t.key", "success/rate")}, {Metric("eval/target", "t.key", "success/low")}, {Metric("eval/target", "t.key", "success/high")},
                   {Metric("eval/target", "t.key", "harm/mean")}, {Metric("eval/target", "t.key", "responses/unscoreable")},
                   {Metric("eval/target", "t.key", "responses/count")}, {Metric("eval/target", "t.key", "seconds")}
            FROM runs r JOIN attack_evaluations e ON e.run_id = r.run_id, json_each(r.config_json, '$.targets') t;
            -- The evaluation outcomes now live in their tables; the metrics that carried them go.
            DELETE FROM metrics WHERE phase IN ('eval/prompts', 'eval/target') AND run_id IN (SELECT run_id FROM attack_evaluations);

            CREATE TABLE runs_v3 (
                run_id          TEXT PRIMARY KEY NOT NULL,
                kind            TEXT NOT NULL CHECK (kind IN ('discovery', 'eval', 'attack')),
                config_json     TEXT NOT NULL,
                seed            INTEGER NOT NULL,
                ares_version    TEXT NOT NULL,
                {NullableIdentityColumnsDdl("policy")},
                {NullableIdentityColumnsDdl("rm")},
                {NullableIdentityColumnsDdl("judge")},
                {NullableIdentityColumnsDdl("mentor")},
                catalog_version TEXT,
                budget          INTEGER NOT NULL CHECK (budget >= 0),
                status          TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
                created_utc     TEXT NOT NULL,
                updated_utc     TEXT NOT NULL,
                -- discovery and eval runs name their models here; an attack run's models are in attack_runs
                CHECK ((kind = 'attack') = (policy_kind IS NULL AND rm_kind IS NULL AND judge_kind IS NULL AND mentor_kind IS NULL AND catalog_version IS NULL)),
                CHECK ((policy_kind IS NULL) = (policy_location IS NULL) AND (rm_kind IS NULL) = (rm_location IS NULL)
                   AND (judge_kind IS NULL) = (judge_location IS NULL) AND (mentor_kind IS NULL) = (mentor_location IS NULL))
            ) STRICT;
            INSERT INTO runs_v3
            SELECT run_id,
                   CASE WHEN run_id IN (SELECT run_id FROM attack_runs) THEN 'attack'
                        WHEN EXISTS (SELECT 1 FROM eval_responses e WHERE e.run_id = runs.run_id) OR (rm_kind = 'builtin' AND rm_location = 'none') THEN 'eval'
                        ELSE 'discovery' END,
                   config_json, seed, ares_version,
                   {KeptUnlessAttack("policy")}, {KeptUnlessAttack("rm")}, {KeptUnlessAttack("judge")}, {KeptUnlessAttack("mentor")},
                   CASE WHEN run_id IN (SELECT run_id FROM attack_runs) THEN NULL ELSE catalog_version END,
                   budget, status, created_utc, updated_utc
            FROM runs;
            DROP TABLE runs;
            ALTER TABLE runs_v3 RENAME TO runs;
            """;
    }

    static string KeptUnlessAttack(string p) => string.Join(", ",
        new[] { "kind", "location", "hash", "model" }.Select(c => $"CASE WHEN run_id IN (SELECT run_id FROM attack_runs) THEN NULL ELSE {p}_{c} END"));

    static string NullableIdentityColumnsDdl(string p) =>
        $"{p}_kind TEXT, {p}_location TEXT, {p}_hash TEXT, {p}_model TEXT";

    static string IdentityColumnsDdl(string p) =>
        $"{p}_kind TEXT NOT NULL, {p}_location TEXT NOT NULL, {p}_hash TEXT, {p}_model TEXT";

    /// <summary>
    /// A new file's schema as release <paramref name="version"/> created it (released migrations never change),
    /// so tests can write a store the way an older Ares did and check that this one reads it.
    /// </summary>
    internal static void CreateAt(SqliteConnection db, int version)
    {
        if (version < 1 || version > RunStore.SchemaVersion) throw new ArgumentOutOfRangeException(nameof(version), $"schema versions are 1..{RunStore.SchemaVersion}, got {version}");
        using var tx = db.BeginTransaction();
        for (int v = 0; v < version; v++) RunStore.Exec(db, Migrations[v], tx);
        RunStore.Exec(db, $"PRAGMA user_version = {version}", tx);
        tx.Commit();
    }

    /// <summary>Brings the file to <see cref="RunStore.SchemaVersion"/>; a newer file, or a foreign SQLite database, is refused.</summary>
    public static void Migrate(SqliteConnection db, string path)
    {
        // Read first without a lock: an up-to-date store opens even while another connection holds the write lock.
        int version = CheckVersion(db, path, null);
        if (version == RunStore.SchemaVersion) return;
        // IMMEDIATE, then look again: two processes creating a new file at once must not both create the schema.
        using var tx = db.BeginTransaction();
        version = CheckVersion(db, path, tx);
        if (version == RunStore.SchemaVersion) return;
        for (int v = version; v < RunStore.SchemaVersion; v++)
            RunStore.Exec(db, Migrations[v], tx);
        if (version > 0 && RunStore.Scalar(db, "SELECT count(*) FROM pragma_foreign_key_check", tx) is long broken and > 0)
            throw new RunStoreException($"{path}: migrating the run store from schema {version} left {broken} row(s) whose run is missing; the file was not changed");
        RunStore.Exec(db, $"PRAGMA user_version = {RunStore.SchemaVersion}", tx);
        tx.Commit();
    }

    /// <summary>The file's schema version, refusing a newer one and an SQLite file that is not a run store.</summary>
    public static int CheckVersion(SqliteConnection db, string path, SqliteTransaction? tx)
    {
        // One statement, so one snapshot: read as two, another connection creating the schema could commit in
        // between, and its tables would be seen without its version (a fresh store called foreign).
        using var cmd = RunStore.Command(db, tx,
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT group_concat(name, ', ') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%')");
        using var row = cmd.ExecuteReader();
        row.Read();
        int version = row.GetInt32(0);
        string? tables = row.IsDBNull(1) ? null : row.GetString(1);
        if (version > RunStore.SchemaVersion)
            throw new RunStoreException($"{path}: run store schema version {version} is newer than this Ares supports ({RunStore.SchemaVersion}); use a newer Ares");
        if (version == 0 && tables is not null)
            throw new RunStoreException($"{path}: an SQLite database but not an Ares run store (no schema version; tables: {tables})");
        return version;
    }
}
