using System.CommandLine;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.Cli.Commands;

/// <summary>`ares export`: a stored discovery run as JSON Lines, every case or the TRL preference pairs for reward-model repair.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var store = new Option<string>("--store", "-s") { Description = "Run store (SQLite file) a discovery run wrote", Required = true, HelpName = "FILE" };
        var run = new Option<string?>("--run") { Description = "Id of the run to export (default: the most recent run in the store)", HelpName = "ID" };
        var format = new Option<string>("--format", "-f")
        {
            Description = "cases: one JSON object per case with components, responses, rewards, class and provenance; " +
                          "preferences: TRL preference pairs {prompt, chosen: safe response, rejected: malicious response} in plain text at --out " +
                          "and in TRL's conversational form ({role, content} message lists) beside it (pairs.jsonl → pairs.conversational.jsonl)",
            Required = true,
        };
        format.AcceptOnlyFromAmong("cases", "preferences");
        var classes = new Option<string?>("--classes")
        {
            HelpName = "LIST",
            Description = "Preferences only: comma-separated failure classes whose cases become pairs " +
                          "(default: rm_only,systemic, the cases where the reward model preferred the malicious response; " +
                          $"any of {string.Join(", ", FailureClassNames.All.Select(c => c.SnakeName()))})",
        };
        var conversational = new Option<bool>("--conversational")
        {
            Description = "Preferences only: write only TRL's conversational form, at --out (no plain file)",
        };
        var output = new Option<string>("--out", "-o") { Description = "JSONL file to write (replaced atomically)", Required = true, HelpName = "FILE" };
        var cmd = new Command("export", "Export a discovery run from a run store as JSON Lines (cases for analysis, or preference pairs for reward-model repair)")
        { store, run, format, classes, conversational, output };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            bool preferences = r.GetValue(format) == "preferences";
            if (!preferences && (r.GetValue(classes) is not null || r.GetValue(conversational)))
                throw new ArgumentException("--classes and --conversational apply to --format preferences only");
            var wanted = ParseClasses(r.GetValue(classes));

            using var db = RunStore.Open(r.GetValue(store)!, create: false);
            var runs = db.ListRuns();
            if (runs.Count == 0) throw new ArgumentException($"{db.Path}: the store has no runs to export");
            string runId = r.GetValue(run) ?? runs[^1].RunId;
            if (runs.All(x => x.RunId != runId))
                throw new ArgumentException($"{db.Path}: no run '{runId}'; runs in the store: {string.Join(", ", runs.Select(x => $"{x.RunId} ({x.Status})"))}");

            string path = r.GetValue(output)!;
            if (preferences)
            {
                bool onlyConversational = r.GetValue(conversational);
                int n = CaseExport.WritePreferencesJsonl(db, runId, path, wanted, onlyConversational);
                string which = string.Join(",", (wanted ?? CaseExport.RepairClasses).Select(c => c.SnakeName()).Order());
                string where = path;
                if (!onlyConversational)
                {
                    var twin = CaseExport.ConversationalPath(path);
                    CaseExport.WritePreferencesJsonl(db, runId, twin, wanted, conversational: true);
                    where = $"{path} (conversational form: {twin})";
                }
                Console.Error.WriteLine($"wrote {n} preference pair(s) ({which}) of run '{runId}' to {where}");
            }
            else
            {
                int n = CaseExport.WriteCasesJsonl(db, runId, path);
                Console.Error.WriteLine($"wrote {n} case(s) of run '{runId}' to {path}");
            }
            return 0;
        }));
        return cmd;
    }

    static IReadOnlyCollection<FailureClass>? ParseClasses(string? list)
    {
        if (list is null) return null;
        var names = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0) throw new ArgumentException("--classes is empty: name at least one failure class");
        try { return names.Select(FailureClassNames.Parse).ToHashSet(); }
        catch (ArgumentException e) { throw new ArgumentException($"--classes: {e.Message}", e); }
    }
}
