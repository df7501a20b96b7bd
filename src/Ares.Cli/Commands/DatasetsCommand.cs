using System.CommandLine;
using Ares.RedTeam.Benchmarks;

namespace Ares.Cli.Commands;

/// <summary>`ares datasets inspect FILE`: the detected benchmark layout, the row count and the rows per category.</summary>
internal static class DatasetsCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "A benchmark file: AdvBench, HarmBench, StrongREJECT, XSTest or JailbreakBench CSV, or JSONL with \"prompt\"" };
        var inspect = new Command("inspect", """
            Read a benchmark file as `ares eval` does and print its format, its row count and one
            'category: N' line per category (plus copyright rows for HarmBench, safe/unsafe for XSTest).
            """) { file };
        inspect.SetAction(r => CliErrors.Run(() =>
        {
            var set = BenchmarkFile.Load(r.GetValue(file)!.FullName);
            Console.WriteLine($"format: {BenchmarkSet.Name(set.Format)}");
            Console.WriteLine($"rows: {set.Items.Count}");
            foreach (var (category, count) in set.CategoryCounts()) Console.WriteLine($"{category}: {count}");
            if (set.Format == BenchmarkFormat.HarmBench)
            {
                Console.WriteLine($"contextual rows: {set.Items.Count(i => i.Context is not null)}");
                Console.WriteLine($"copyright rows (judged by hashing in HarmBench, left unscored by `ares eval`): {set.Items.Count(i => i.Copyright)}");
            }
            if (set.Items.Any(i => i.Label is not null))
                Console.WriteLine($"labels: safe {set.Items.Count(i => i.Label == "safe")}, unsafe {set.Items.Count(i => i.Label == "unsafe")}");
            return 0;
        }));
        return new Command("datasets", "Read the published safety benchmark files") { inspect };
    }
}
