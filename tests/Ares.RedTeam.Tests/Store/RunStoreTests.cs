using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;
using Microsoft.Data.Sqlite;
using static Ares.RedTeam.Tests.Store.StoreSamples;

namespace Ares.RedTeam.Tests.Store;

public sealed class RunStoreTests : IDisposable
{
    readonly TempDirectory _dir = new();
    string DbPath => _dir.File("runs.db");
    public void Dispose() => _dir.Dispose();

    static SqliteConnection Raw(string path)
    {
        var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        return c;
    }

    static object? Scalar(SqliteConnection c, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        return cmd.ExecuteScalar();
    }

    [Fact]
    public void Pollers_opening_a_store_while_it_is_being_created_never_call_it_foreign()
    {
        // The kill -9 test polls the file while `ares probe` creates it: a reader that saw the schema version
        // before the creator committed and the tables after called the store "not an Ares run store".
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        for (int round = 0; round < 60 && errors.IsEmpty; round++)
        {
            var path = _dir.File($"race-{round}.db");
            bool done = false;
            var pollers = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
            {
                while (!Volatile.Read(ref done))
                {
                    if (!File.Exists(path)) continue;
                    try { using var s = RunStore.Open(path, create: false); }
                    catch (FileNotFoundException) { }
                    catch (RunStoreException e) { errors.Add(e.Message); }
                }
            })).ToList();
            pollers.ForEach(t => t.Start());
            try { using var s = RunStore.Open(path); }
            catch (RunStoreException e) { errors.Add("creator: " + e.Message); }
            Volatile.Write(ref done, true);
            pollers.ForEach(t => t.Join());
        }
        Assert.True(errors.IsEmpty, string.Join("\n", errors.Distinct()));
    }

    [Fact]
    public void Saved_cases_load_back_equal_including_nulls_unicode_and_mentor_failures()
    {
        const string unicode = "Ünïcödé — 日本語 — 🙂 — עברית\nsecond line\t\"quoted\" \\ back\u0000slash";
        var tuple = Case(2).Components;
        ProbeCase[] saved =
        [
            Case(0),
            MentorFailure(1),
            Case(2, FailureClass.Unscored, k: 3) with
            {
                Case = new MentorCase(tuple, unicode, "[redacted] " + unicode, "Nein — " + unicode),
                RewardMalicious = null,
                RewardSafe = double.Epsilon,
                Responses = [new ProbeResponse(0, unicode, "length", null, 1.0, unicode, double.MaxValue),
                             new ProbeResponse(1, "", null, null, 0.0, null, -0.0),
                             new ProbeResponse(2, null, null, "http 503", null, null, null)],
            },
            Case(3, FailureClass.Robust, k: 0),
        ];
        using (var store = RunStore.Open(DbPath))
        {
            store.CreateRun(Run());
            foreach (var c in saved.Reverse()) store.SaveCase("run-1", c); // saved out of order, loaded by index
        }
        using var reopened = RunStore.Open(DbPath);
        var loaded = reopened.LoadCases("run-1");
        Assert.Equal(saved.Length, loaded.Count);
        for (int i = 0; i < saved.Length; i++) AssertSameCase(saved[i], loaded[i]);
        Assert.Null(loaded[1].Case);
        Assert.Null(loaded[1].Class);
        Assert.Equal(3, loaded[1].MentorAttempts);
    }

    [Fact]
    public void Runs_round_trip_with_their_provenance_and_list_oldest_first()
    {
        using var store = RunStore.Open(DbPath);
        var late = Run("late", T0.AddHours(1));
        var early = Run("early", T0) with { Mentor = new ModelIdentity("builtin", "x"), Status = "complete" };
        store.CreateRun(late);
        store.CreateRun(early);
        Assert.Equal(late, store.GetRun("late"));
        Assert.Equal(early, store.GetRun("early"));
        Assert.Null(store.GetRun("missing"));
        Assert.Equal(["early", "late"], store.ListRuns().Select(r => r.RunId));
        var e = Assert.Throws<RunStoreException>(() => store.CreateRun(Run("late")));
        Assert.Contains(store.Path, e.Message);
        Assert.Contains("'late' already exists", e.Message);
    }

    [Fact]
    public void Saving_an_index_twice_is_refused_and_keeps_the_first()
    {
        using var store = RunStore.Open(DbPath);
        store.CreateRun(Run());
        store.SaveCase("run-1", Case(5));
        var e = Assert.Throws<RunStoreException>(() => store.SaveCase("run-1", Case(5, FailureClass.Robust, k: 1)));
        Assert.Contains(store.Path, e.Message);
        Assert.Contains("run 'run-1' already has case 5", e.Message);
        var only = Assert.Single(store.LoadCases("run-1"));
        AssertSameCase(Case(5), only);
    }

    [Fact]
    public void A_case_whose_save_fails_midway_leaves_nothing_behind()
    {
        using var store = RunStore.Open(DbPath);
        store.CreateRun(Run());
        var good = Case(0, k: 3);
        // The case row and the first responses are written before the bad response hits a constraint.
        var duplicateSample = good with { Responses = [.. good.Responses, good.Responses[0]] };
        var e = Assert.Throws<RunStoreException>(() => store.SaveCase("run-1", duplicateSample));
        Assert.Contains("case 0 not saved: response sample 0: the sample number appears twice", e.Message);
        var outOfRange = good with { Responses = [.. good.Responses, new ProbeResponse(3, "x", "stop", null, 1.5, null, 0)] };
        e = Assert.Throws<RunStoreException>(() => store.SaveCase("run-1", outOfRange));
        Assert.Contains("response sample 3", e.Message);
        Assert.Contains("CHECK constraint failed", e.Message);

        Assert.Empty(store.LoadCases("run-1"));
        Assert.Empty(store.CompletedIndices("run-1"));
        using (var raw = Raw(DbPath))
            Assert.Equal(0L, Scalar(raw, "SELECT count(*) FROM responses"));
        store.SaveCase("run-1", good); // nothing left behind blocks the index
        AssertSameCase(good, Assert.Single(store.LoadCases("run-1")));
    }

    [Fact]
    public void Records_that_break_the_probe_invariants_are_refused_before_anything_is_written()
    {
        using var store = RunStore.Open(DbPath);
        store.CreateRun(Run());
        ProbeCase[] bad =
        [
            Case(0) with { MentorFailure = "also failed" },
            MentorFailure(0) with { Class = FailureClass.Robust },
            Case(0) with { Class = null },
            Case(0) with { RewardSafe = double.NaN },
            Case(0) with { Responses = [new ProbeResponse(0, "x", null, null, double.PositiveInfinity, null, null)] },
            Case(0) with { Components = Case(1).Components },
            Case(-1),
        ];
        foreach (var c in bad)
        {
            var e = Assert.Throws<RunStoreException>(() => store.SaveCase("run-1", c));
            Assert.Contains($"run 'run-1' case {c.Index}", e.Message);
        }
        var missing = Assert.Throws<RunStoreException>(() => store.SaveCase("nope", Case(0)));
        Assert.Contains("no run 'nope' (runs: run-1)", missing.Message);
        Assert.Empty(store.CompletedIndices("run-1"));
    }

    [Fact]
    public void Completed_indices_are_the_saved_cases_of_that_run_only()
    {
        using var store = RunStore.Open(DbPath);
        store.CreateRun(Run("a"));
        store.CreateRun(Run("b"));
        foreach (int i in new[] { 7, 0, 3 }) store.SaveCase("a", Case(i));
        store.SaveCase("a", MentorFailure(4));
        store.SaveCase("b", Case(1));
        Assert.Equal([0, 3, 4, 7], store.CompletedIndices("a").ToArray()); // ascending
        Assert.Equal([1], store.CompletedIndices("b"));
    }

    [Fact]
    public void Status_changes_are_kept_and_unknown_statuses_refused()
    {
        using var store = RunStore.Open(DbPath);
        store.CreateRun(Run());
        store.SetStatus("run-1", "complete");
        Assert.Equal("complete", store.GetRun("run-1")!.Status);
        Assert.Throws<RunStoreException>(() => store.SetStatus("run-1", "done"));
        Assert.Throws<RunStoreException>(() => store.SetStatus("other", "failed"));
        Assert.Throws<RunStoreException>(() => store.CreateRun(Run("x") with { ConfigJson = "{not json" }));
    }

    [Fact]
    public void Store_runs_in_WAL_with_normal_sync_foreign_keys_and_a_schema_version()
    {
        using var store = RunStore.Open(DbPath);
        Assert.Equal("wal", store.Pragma("journal_mode"));
        Assert.Equal("1", store.Pragma("synchronous")); // NORMAL
        Assert.Equal("1", store.Pragma("foreign_keys"));
        Assert.Equal("10000", store.Pragma("busy_timeout"));
        using var raw = Raw(DbPath);
        Assert.Equal("wal", Scalar(raw, "PRAGMA journal_mode")); // persistent in the file, not per connection
        Assert.Equal((long)RunStore.SchemaVersion, Scalar(raw, "PRAGMA user_version"));
    }

    [Fact]
    public void Metrics_load_back_in_append_order_per_phase_with_NaN_kept()
    {
        using var store = RunStore.Open(DbPath);
        store.CreateRun(Run());
        var before = DateTime.UtcNow;
        store.AppendMetrics("run-1", "rm_repair", 0, new Dictionary<string, double> { ["loss"] = 0.693, ["reward/accuracy"] = 0.5 });
        store.AppendMetrics("run-1", "gflownet", 0, new Dictionary<string, double> { ["tb_loss"] = double.NaN, ["log_z"] = double.NegativeInfinity });
        store.AppendMetrics("run-1", "rm_repair", 1, new Dictionary<string, double> { ["loss"] = 0.5, ["reward/accuracy"] = 0.75 });
        store.AppendMetrics("run-1", "rm_repair", 2, new Dictionary<string, double>());
        var after = DateTime.UtcNow;

        var rm = store.LoadMetrics("run-1", "rm_repair");
        Assert.Equal([("loss", 0L, 0.693), ("reward/accuracy", 0L, 0.5), ("loss", 1L, 0.5), ("reward/accuracy", 1L, 0.75)],
            rm.Select(m => (m.Key, m.Step, m.Value)));
        Assert.All(rm, m => Assert.InRange(m.Utc, before, after));
        var all = store.LoadMetrics("run-1");
        Assert.Equal(6, all.Count);
        Assert.True(double.IsNaN(all[2].Value));
        Assert.Equal(double.NegativeInfinity, all[3].Value);
        Assert.Equal("gflownet", all[2].Phase);
        Assert.Throws<RunStoreException>(() => store.AppendMetrics("run-1", "", 0, new Dictionary<string, double> { ["x"] = 1 }));
    }

    [Fact]
    public void Dispose_closes_the_file_cleanly_and_reopening_sees_everything()
    {
        using (var store = RunStore.Open(DbPath))
        {
            store.CreateRun(Run());
            store.SaveCase("run-1", Case(0));
            Assert.True(File.Exists(DbPath + "-wal"));
        }
        Assert.False(File.Exists(DbPath + "-wal")); // last connection closed: WAL checkpointed and removed
        using (var again = RunStore.Open(DbPath)) Assert.Single(again.LoadCases("run-1"));
        File.Delete(DbPath); // no handle left open
    }

    [Fact]
    public void A_second_store_reads_committed_cases_while_another_connection_is_writing()
    {
        using var writer = RunStore.Open(DbPath);
        writer.CreateRun(Run());
        for (int i = 0; i < 3; i++) writer.SaveCase("run-1", Case(i));

        using var raw = Raw(DbPath);
        using var tx = raw.BeginTransaction(); // holds the write lock with an uncommitted case
        Scalar(raw, "INSERT INTO cases (run_id, case_index, topic, persona, tactic, goal, seed, mentor_failure, mentor_attempts, created_utc) " +
                    "VALUES ('run-1', 3, 't', 'p', 'a', 'g', 0, 'in flight', 1, '2025-01-01T00:00:00.0000000Z')", tx);

        using var reader = RunStore.Open(DbPath);
        Assert.Equal([0, 1, 2], reader.CompletedIndices("run-1")); // not blocked, and no uncommitted rows
        tx.Commit();
        Assert.Equal([0, 1, 2, 3], reader.CompletedIndices("run-1"));
        Assert.Equal([0, 1, 2, 3], writer.CompletedIndices("run-1"));
    }

    [Fact]
    public void Committed_cases_survive_a_crash_and_an_in_flight_case_does_not()
    {
        using var store = RunStore.Open(DbPath);
        store.CreateRun(Run());
        for (int i = 0; i < 5; i++) store.SaveCase("run-1", Case(i));
        using var raw = Raw(DbPath);
        using var tx = raw.BeginTransaction();
        Scalar(raw, "INSERT INTO cases (run_id, case_index, topic, persona, tactic, goal, seed, mentor_failure, mentor_attempts, created_utc) " +
                    "VALUES ('run-1', 5, 't', 'p', 'a', 'g', 0, 'in flight', 1, '2025-01-01T00:00:00.0000000Z')", tx);

        // What a kill -9 leaves on disk now: the database and its WAL, never checkpointed or closed.
        // Leaving the -shm behind makes SQLite rebuild the WAL index from the WAL itself (crash recovery).
        var crashed = _dir.File("crashed.db");
        File.Copy(DbPath, crashed);
        File.Copy(DbPath + "-wal", crashed + "-wal");

        using var recovered = RunStore.Open(crashed);
        var cases = recovered.LoadCases("run-1");
        Assert.Equal(5, cases.Count);
        for (int i = 0; i < 5; i++) AssertSameCase(Case(i), cases[i]);
    }

    [Fact]
    public void Saves_from_many_threads_all_land()
    {
        using var store = RunStore.Open(DbPath);
        store.CreateRun(Run());
        Parallel.For(0, 40, i => store.SaveCase("run-1", Case(i)));
        Assert.Equal(Enumerable.Range(0, 40), store.CompletedIndices("run-1").Order());
    }

    [Fact]
    public void Files_that_are_not_this_schema_are_refused_naming_the_file()
    {
        using (var store = RunStore.Open(DbPath)) { }
        using (var raw = Raw(DbPath)) Scalar(raw, $"PRAGMA user_version = {RunStore.SchemaVersion + 1}");
        var newer = Assert.Throws<RunStoreException>(() => RunStore.Open(DbPath));
        Assert.Contains(DbPath, newer.Message);
        Assert.Contains($"schema version {RunStore.SchemaVersion + 1} is newer than this Ares supports ({RunStore.SchemaVersion})", newer.Message);

        var text = _dir.File("notes.db");
        File.WriteAllText(text, "these are not the tables you are looking for, padded to a page " + new string('x', 200));
        var notDb = Assert.Throws<RunStoreException>(() => RunStore.Open(text));
        Assert.Contains($"{text}: not an SQLite database", notDb.Message);

        var foreign = _dir.File("foreign.db");
        using (var raw = Raw(foreign)) Scalar(raw, "CREATE TABLE t (x)");
        var other = Assert.Throws<RunStoreException>(() => RunStore.Open(foreign));
        Assert.Contains($"{foreign}: an SQLite database but not an Ares run store", other.Message);
        using (var raw = Raw(foreign)) Assert.Equal("delete", Scalar(raw, "PRAGMA journal_mode")); // refused before touching it

        var missing = _dir.File("sub/missing.db");
        Assert.Throws<FileNotFoundException>(() => RunStore.Open(missing, create: false));
        Assert.False(File.Exists(missing));
        using (RunStore.Open(missing)) Assert.True(File.Exists(missing)); // create makes the folder too
    }
}
