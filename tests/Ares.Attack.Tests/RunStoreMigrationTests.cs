using Ares.RedTeam.Attack;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;
using Microsoft.Data.Sqlite;

namespace Ares.RedTeam.Tests.Store;

/// <summary>A store written by the schema-2 release opens with this one: its runs keep their rows, attack runs move into their own tables.</summary>
public sealed class RunStoreMigrationTests : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    static object? Scalar(string path, string sql)
    {
        using var db = new SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    [Fact]
    public void A_schema_2_store_is_migrated_with_kinds_attack_tables_and_every_row_kept()
    {
        string path = _dir.File("old.db");
        SchemaTwoStore.Write(path);
        Assert.Equal(2L, Scalar(path, "PRAGMA user_version"));

        using (var store = RunStore.Open(path, create: false))
        {
            Assert.Equal([("probe-1", "discovery"), ("sr", "eval"), ("demo.sft.1", "attack"), ("demo.eval-gfn.1", "attack")],
                store.ListRunHeaders().Select(h => (h.RunId, h.Kind)));
            // Discovery and eval runs keep their models and rows; attack runs are no longer RunInfos.
            Assert.Equal(["probe-1", "sr"], store.ListRuns().Select(r => r.RunId));
            Assert.Equal(("/m/policy", "/m/rm", "2025.1"), (store.GetRun("probe-1")!.Policy.Location, store.GetRun("probe-1")!.RewardModel.Location, store.GetRun("probe-1")!.CatalogVersion));
            Assert.Equal("mentor gave up", Assert.Single(store.LoadCases("probe-1")).MentorFailure);
            Assert.Equal(RunStore.EvalKind, store.GetRun("sr")!.Kind);
            Assert.Equal("answer", Assert.Single(store.LoadEvalRecords("sr")).Text);
            Assert.Null(store.GetRun("demo.sft.1"));

            // The borrowed columns became what they meant: mentor → attacker, policy → target, catalog version → the seed file's hash.
            var sft = store.GetAttackRun("demo.sft.1")!;
            Assert.Equal(("demo", "sft", null, "complete"), (sft.RunName, sft.Stage, sft.Method, sft.Status));
            Assert.Equal((new ModelIdentity("local", "/m/base", SchemaTwoStore.Hash('b')), new ModelIdentity("local", "/m/target0", SchemaTwoStore.Hash('0')),
                    new ModelIdentity("local", "/m/judge", SchemaTwoStore.Hash('e'))),
                (sft.Attacker, sft.Target, sft.Judge));
            Assert.Equal(("0123456789abcdef", SchemaTwoStore.ConfigSha, "/cfg/attack.json"), (sft.SeedsSha256, sft.ConfigSha256, sft.ConfigPath));
            Assert.Equal([3.0, 2, 1], store.LoadMetrics("demo.sft.1", "sft").Select(m => m.Value));   // training curves stay metrics

            // The evaluation's metrics became its rows (and left the metric stream); the report reads them back.
            var eval = store.GetAttackRun("demo.eval-gfn.1")!;
            Assert.Equal(("eval-gfn", "gfn", new ModelIdentity("builtin", "minilm", null, "1")), (eval.Stage, eval.Method, eval.Embedder));
            Assert.Empty(store.LoadMetrics("demo.eval-gfn.1"));
            var report = AttackRuns.LoadReport(store, "demo")!;
            var gfn = Assert.Single(report.Methods);
            Assert.Equal(["target", "sandbox:small"], report.Targets);
            Assert.Equal((10, 1, 2, 17L), (gfn.Prompts, gfn.EmptyPrompts, gfn.ResponsesPerPrompt, gfn.Seed));
            Assert.Equal(new DiversityReport(10, 0.42, 0.5, 0.6, 0.7), gfn.Diversity);
            for (int i = 0; i < SchemaTwoStore.Targets.Length; i++)
            {
                var (name, successes, trials, low, high, harm, unscoreable, responses) = SchemaTwoStore.Targets[i];
                Assert.Equal(new TargetAttackResult(name, new ModelIdentity("local", $"/m/target{i}", SchemaTwoStore.Hash((char)('0' + i))),
                        new Proportion(successes, trials, low, high), harm, unscoreable, responses, 4),
                    gfn.Targets[i]);
            }
            Assert.Empty(gfn.Rows);   // schema 2 never stored per-prompt rows

            // The migrated store takes new runs of every kind.
            var who = new AttackProvenance(sft.Target, sft.Judge, sft.Attacker, _dir.File("old.db"));
            var c = AttackConfig.Parse("""{ "out": "o", "sandbox": "default", "run": "demo" }""", _dir.File("attack.json"));
            Assert.Equal("demo.sft.2", AttackRuns.Begin(store, c, "sft", who, 3));
            store.CreateRun(StoreSamples.Run("probe-2"));
            Assert.Equal(RunStore.DiscoveryKind, store.GetRun("probe-2")!.Kind);
        }
        Assert.Equal((long)RunStore.SchemaVersion, Scalar(path, "PRAGMA user_version"));
        Assert.Null(Scalar(path, "SELECT count(*) FROM pragma_foreign_key_check HAVING count(*) > 0"));
        using (var again = RunStore.Open(path, create: false)) Assert.Equal(6, again.ListRunHeaders().Count);   // reopening migrates nothing
    }

    [Fact]
    public void Deleting_an_attack_run_cascades_to_its_evaluation_rows()
    {
        string path = _dir.File("old.db");
        SchemaTwoStore.Write(path);
        using (RunStore.Open(path, create: false)) { }
        using var db = new SqliteConnection($"Data Source={path};Pooling=False;Foreign Keys=True");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "DELETE FROM runs WHERE run_id = 'demo.eval-gfn.1'";
        cmd.ExecuteNonQuery();
        Assert.Equal(0L, Scalar(path, "SELECT count(*) FROM attack_targets"));
        Assert.Equal(0L, Scalar(path, "SELECT count(*) FROM attack_evaluations"));
        Assert.Equal(1L, Scalar(path, "SELECT count(*) FROM attack_runs"));
    }

    [Fact]
    public void An_attack_run_cannot_borrow_the_discovery_columns()
    {
        using (RunStore.Open(_dir.File("new.db"))) { }
        var e = Assert.Throws<SqliteException>(() => Scalar(_dir.File("new.db"),
            $"INSERT INTO runs VALUES ('x.sft.1', 'attack', '{{}}', 1, 'v', 'local', '/p', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 'running', '{SchemaTwoStore.Created}', '{SchemaTwoStore.Created}')"));
        Assert.Contains("CHECK constraint failed", e.Message);
    }
}
