using System.Globalization;
using Ares.RedTeam.Store;
using Microsoft.Data.Sqlite;

namespace Ares.RedTeam.Tests.Store;

/// <summary>
/// A run store written as Ares wrote schema 2, before attack runs had their own tables: the released
/// schema-2 migrations, then rows inserted the way that release's RunStore and AttackRuns inserted them
/// (an attack run borrowed the discovery columns: policy = target, reward model = judge, mentor =
/// attacker, catalog version = "attack-seeds sha256:" + 16 hex digits; its stage, config hash and an
/// evaluation's settings sat in the config JSON, and the evaluation's outcome was metrics whose step
/// was the target's index). Holds a discovery run with a case, an eval run with an answer, an attack
/// sft run with its training metrics and an attack eval-gfn run against two targets.
/// </summary>
internal static class SchemaTwoStore
{
    public const string ConfigSha = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    public const string Created = "2026-01-02T03:04:05.0000000Z";
    /// <summary>A stand-in content hash (64 hex digits, as a local identity has).</summary>
    public static string Hash(char c) => new(c, 64);
    /// <summary>The eval-gfn run's outcome per target: name, successes, trials, Wilson bounds, mean harm, unscoreable, responses.</summary>
    public static readonly (string Name, int Successes, int Trials, double Low, double High, double Harm, int Unscoreable, int Responses)[] Targets =
        [("target", 3, 10, 0.107789, 0.603221, 0.35, 1, 20), ("sandbox:small", 1, 10, 0.017875, 0.404155, 0.12, 0, 20)];

    public static void Write(string path)
    {
        using var db = new SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        RunStoreSchema.CreateAt(db, 2);
        string local = $"'local', '/m/policy', '{Hash('a')}', NULL", judge = $"'local', '/m/judge', '{Hash('e')}', NULL";
        string targets = string.Join(", ", Targets.Select((t, i) =>
            "{\"name\": \"" + t.Name + "\", \"identity\": {\"kind\": \"local\", \"location\": \"/m/target" + i + "\", \"content_hash\": \"" + Hash((char)('0' + i)) + "\", \"model_name\": null}}"));
        string AttackConfig(string stage, string extra) =>
            "{\"stage\": \"" + stage + "\", \"config_path\": \"/cfg/attack.json\", \"config_sha256\": \"" + ConfigSha + "\", \"config\": {\"out\": \"o\", \"sandbox\": \"default\"}" + extra + "}";
        string sftConfig = AttackConfig("sft", ""), probeConfig = "{\"budget\": 1}", benchConfig = "{\"benchmark\": \"b.csv\"}";
        string evalConfig = AttackConfig("eval-gfn", ", \"method\": \"gfn\", \"prompts\": 10, \"responses_per_prompt\": 2, \"eval_seed\": 17, \"targets\": [" + targets +
            "], \"embedder\": {\"kind\": \"builtin\", \"location\": \"minilm\", \"content_hash\": null, \"model_name\": \"1\"}");
        Exec(db, $"""
            INSERT INTO runs VALUES ('probe-1', '{probeConfig}', 7, '0.1.0', {local}, 'local', '/m/rm', '{Hash('f')}', NULL, {judge},
                                     'builtin', 'template-mentor', NULL, '1', '2025.1', 1, 'complete', '{Created}', '{Created}');
            INSERT INTO cases (run_id, case_index, topic, persona, tactic, goal, seed, mentor_failure, mentor_attempts, created_utc)
                VALUES ('probe-1', 0, 'weapons', 'student', 'roleplay', 'instructions', 1000, 'mentor gave up', 3, '{Created}');
            INSERT INTO runs VALUES ('sr', '{benchConfig}', 1, '0.1.0', {local}, 'builtin', 'none', NULL, '0', {judge},
                                     'builtin', 'none', NULL, '0', 'strongreject sha256:0', 1, 'complete', '{Created}', '{Created}');
            INSERT INTO eval_responses VALUES ('sr', 0, 0, 'q1', 'crime', NULL, 'prompt', 'answer', 'stop', NULL, 'safe', 0, NULL, 'refused', '{Created}');
            INSERT INTO runs VALUES ('demo.sft.1', '{sftConfig}', 1, '0.1.0', 'local', '/m/target0', '{Hash('0')}', NULL,
                                     {judge}, {judge}, 'local', '/m/base', '{Hash('b')}', NULL, 'attack-seeds sha256:0123456789abcdef', 3, 'complete', '{Created}', '{Created}');
            INSERT INTO runs VALUES ('demo.eval-gfn.1', '{evalConfig}', 1, '0.1.0',
                                     'local', '/m/target0', '{Hash('0')}', NULL, {judge}, {judge}, 'local', '/o/gfn/checkpoint', '{Hash('c')}', NULL,
                                     'attack-seeds sha256:0123456789abcdef', 10, 'complete', '{Created}', '{Created}');
            """);
        for (int step = 0; step < 3; step++) Metric(db, "demo.sft.1", "sft", step, "loss", 3 - step);
        foreach (var (key, value) in new[] { ("prompts", 10.0), ("prompts/empty", 1), ("diversity/mean_cosine", 0.42), ("diversity/distinct_1", 0.5),
                     ("diversity/distinct_2", 0.6), ("diversity/distinct_3", 0.7), ("seconds/sample", 2), ("seconds/embed", 0.5) })
            Metric(db, "demo.eval-gfn.1", "eval/prompts", 0, key, value);
        for (int i = 0; i < Targets.Length; i++)
        {
            var t = Targets[i];
            foreach (var (key, value) in new[] { ("success/successes", (double)t.Successes), ("success/trials", t.Trials), ("success/rate", (double)t.Successes / t.Trials),
                         ("success/low", t.Low), ("success/high", t.High), ("harm/mean", t.Harm), ("responses/unscoreable", t.Unscoreable),
                         ("responses/count", t.Responses), ("seconds", 4) })
                Metric(db, "demo.eval-gfn.1", "eval/target", i, key, value);
        }
    }

    static void Metric(SqliteConnection db, string run, string phase, int step, string key, double value) =>
        Exec(db, string.Create(CultureInfo.InvariantCulture,
            $"INSERT INTO metrics (run_id, phase, step, key, value, created_utc) VALUES ('{run}', '{phase}', {step}, '{key}', {value:R}, '{Created}')"));

    static void Exec(SqliteConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
