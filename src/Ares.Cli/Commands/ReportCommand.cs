using System.CommandLine;
using Ares.Reporting;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Store;

namespace Ares.Cli.Commands;

/// <summary>
/// `ares report`: a stored run as one self-contained HTML file (tables, charts, examples, provenance): a
/// discovery run, or for an attack run (kind "attack", id RUN.STAGE.N, see <see cref="AttackRuns"/>) the attack report of RUN.
/// </summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var store = new Option<string>("--store", "-s") { Description = "Run store (SQLite file) a discovery run wrote", Required = true, HelpName = "FILE" };
        var run = new Option<string?>("--run") { Description = "Id of the run to report (default: the most recent run in the store)", HelpName = "ID" };
        var examples = new Option<int>("--examples") { Description = "How many failing cases to show in full", DefaultValueFactory = _ => 6, HelpName = "N" };
        var output = new Option<string>("--out", "-o") { Description = "HTML file to write (replaced atomically)", Required = true, HelpName = "FILE" };
        var cmd = new Command("report", "Render a discovery run (with a repair run's benchmark eval before/after when the store has it), an `ares eval` run, or, for an attack run RUN.STAGE.N, the attack evaluation of RUN with its training curves, from a run store as a self-contained HTML report (no scripts, no external files)")
        { store, run, examples, output };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            int shown = r.GetValue(examples);
            if (shown < 0) throw new ArgumentException($"--examples must be ≥ 0, got {shown}");
            using var db = RunStore.Open(r.GetValue(store)!, create: false);
            var runs = db.ListRunHeaders();
            if (runs.Count == 0) throw new ArgumentException($"{db.Path}: the store has no runs to report");
            string runId = r.GetValue(run) ?? runs[^1].RunId;
            var header = runs.FirstOrDefault(x => x.RunId == runId)
                ?? throw new ArgumentException($"{db.Path}: no run '{runId}'; runs in the store: {string.Join(", ", runs.Select(x => $"{x.RunId} ({x.Status})"))}");
            string path = r.GetValue(output)!;
            if (header.Kind == RunStore.AttackKind)
            {
                // An attack run (its kind is stored): the attack report of its run name, every method's latest evaluation and the training curves.
                string runName = db.GetAttackRun(runId)!.RunName;
                AttackReport.FromStore(db, runName).Write(path);
                Console.Error.WriteLine($"wrote the attack report of runs '{runName}.*' to {path}");
                return 0;
            }
            var info = db.GetRun(runId)!;
            var evalRecords = db.LoadEvalRecords(runId);
            if (evalRecords.Count > 0)
            {
                EvalRunReport.Build(info, evalRecords, shown).Write(path);
                Console.Error.WriteLine($"wrote the eval report of run '{runId}' ({evalRecords.Count} response(s)) to {path}");
                return 0;
            }
            var cases = db.LoadCases(runId);
            var report = DiscoveryReport.Build(info, cases, db.LoadMetrics(runId), shown);
            // A repair discovery (RUN.dK) with a benchmark eval before and after repair shows it too.
            EvalRunReport.AddRepairComparison(report, db, DemoReport.RunName(runId));
            report.Write(path);
            Console.Error.WriteLine($"wrote the report of run '{runId}' ({cases.Count} case(s)) to {path}");
            return 0;
        }));
        return cmd;
    }
}
