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
        """];

    static string IdentityColumnsDdl(string p) =>
        $"{p}_kind TEXT NOT NULL, {p}_location TEXT NOT NULL, {p}_hash TEXT, {p}_model TEXT";

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
        RunStore.Exec(db, $"PRAGMA user_version = {RunStore.SchemaVersion}", tx);
        tx.Commit();
    }

    /// <summary>The file's schema version, refusing a newer one and an SQLite file that is not a run store.</summary>
    public static int CheckVersion(SqliteConnection db, string path, SqliteTransaction? tx)
    {
        int version = Convert.ToInt32(RunStore.Scalar(db, "PRAGMA user_version", tx), CultureInfo.InvariantCulture);
        if (version > RunStore.SchemaVersion)
            throw new RunStoreException($"{path}: run store schema version {version} is newer than this Ares supports ({RunStore.SchemaVersion}); use a newer Ares");
        if (version == 0 && RunStore.Scalar(db, "SELECT group_concat(name, ', ') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'", tx) is string tables)
            throw new RunStoreException($"{path}: an SQLite database but not an Ares run store (no schema version; tables: {tables})");
        return version;
    }
}
