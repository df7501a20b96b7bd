using System.Text;
using CsvHelper;

namespace Ares.RedTeam.Benchmarks;

/// <summary>The published benchmark layouts Ares reads, each recognised by its header.</summary>
internal enum BenchmarkFormat { AdvBench, HarmBench, StrongReject, XSTest, JailbreakBench, Jsonl }

/// <summary>
/// One prompt of a benchmark. <see cref="Prompt"/> is what the policy is sent; <see cref="Behavior"/>
/// is what the judge is told the prompt asks for (HarmBench's classifier sees the behaviour and its
/// context apart, not the joined prompt).
/// </summary>
internal sealed record BenchmarkItem
{
    public required string Id { get; init; }
    public required string Category { get; init; }
    public required string Prompt { get; init; }
    public required string Behavior { get; init; }
    /// <summary>HarmBench's ContextString of a contextual behaviour; null otherwise.</summary>
    public string? Context { get; init; }
    /// <summary>HarmBench copyright behaviours (tag hash_check): HarmBench judges them by hashing against the reference text, not by the classifier.</summary>
    public bool Copyright { get; init; }
    /// <summary>XSTest's label: "safe" (should be answered) or "unsafe" (the contrast prompts, should be refused); null elsewhere.</summary>
    public string? Label { get; init; }
    /// <summary>The 1-based line of the file where the row starts.</summary>
    public int Line { get; init; }
}

/// <summary>A benchmark file as read: where it came from, its layout and its rows, in file order.</summary>
internal sealed record BenchmarkSet(string Path, BenchmarkFormat Format, IReadOnlyList<BenchmarkItem> Items)
{
    /// <summary>Rows per category, in order of first appearance.</summary>
    public IReadOnlyList<(string Category, int Count)> CategoryCounts() =>
        Items.GroupBy(i => i.Category).Select(g => (g.Key, g.Count())).ToList();

    public static string Name(BenchmarkFormat f) => f switch
    {
        BenchmarkFormat.AdvBench => "advbench",
        BenchmarkFormat.HarmBench => "harmbench",
        BenchmarkFormat.StrongReject => "strongreject",
        BenchmarkFormat.XSTest => "xstest",
        BenchmarkFormat.JailbreakBench => "jailbreakbench",
        _ => "jsonl",
    };
}

/// <summary>
/// Reads benchmark files exactly as their projects publish them: CSV with a header (RFC 4180
/// quoting, embedded newlines, UTF-8 with or without BOM), parsed by CsvHelper, the layout detected
/// from the header; and JSONL with a "prompt" field for anything else. A wrong or missing column, an
/// empty prompt, a broken quote or a byte that is not UTF-8 is one <see cref="InvalidDataException"/>
/// naming the file, the line and the column.
/// </summary>
internal static class BenchmarkFile
{
    /// <summary>A layout: its columns as published, the one holding the prompt, and how a row becomes an item.</summary>
    sealed record Layout(BenchmarkFormat Format, string[] Columns, string PromptColumn, Func<Row, BenchmarkItem> Item);

    /// <summary>One CSV record with its line and the header, for field access with located errors.</summary>
    sealed class Row(string path, int line, int record, IReadOnlyDictionary<string, int> columns, string[] values)
    {
        public int Line => line;
        public int Record => record;
        public string this[string column] => values[columns[column]];

        /// <summary>"file:line: column N ('name')", the prefix of an error about one field.</summary>
        public string Location(string column) => $"{path}:{line}: column {columns[column] + 1} ('{column}')";

        /// <summary>A field that must not be blank.</summary>
        public string Required(string column)
        {
            var v = this[column];
            return string.IsNullOrWhiteSpace(v) ? throw new InvalidDataException($"{Location(column)} is empty; a benchmark row needs it") : v;
        }
    }

    // Column lists as the projects publish them (header order), with the source file each comes from.
    static readonly Layout[] Layouts =
    [
        // llm-attacks/llm-attacks data/advbench/harmful_behaviors.csv: no ids or categories; the id is the row number.
        new(BenchmarkFormat.AdvBench, ["goal", "target"], "goal", r => new BenchmarkItem
        {
            Id = $"advbench-{r.Record}", Category = "advbench", Prompt = r.Required("goal"), Behavior = r["goal"], Line = r.Line,
        }),
        // centerforaisafety/HarmBench data/behavior_datasets/harmbench_behaviors_text_all.csv.
        new(BenchmarkFormat.HarmBench, ["Behavior", "FunctionalCategory", "SemanticCategory", "Tags", "ContextString", "BehaviorID"], "Behavior", r =>
        {
            var behavior = r.Required("Behavior");
            var context = string.IsNullOrWhiteSpace(r["ContextString"]) ? null : r["ContextString"];
            var tags = r["Tags"].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return new BenchmarkItem
            {
                Id = r.Required("BehaviorID"), Category = r.Required("SemanticCategory"),
                // HarmBench's baselines (DirectRequest, GCG, …) send a contextual behaviour as context, a rule, then the behaviour.
                Prompt = context is null ? behavior : $"{context}\n\n---\n\n{behavior}",
                Behavior = behavior, Context = context,
                Copyright = tags.Contains("hash_check") || r["FunctionalCategory"] == "copyright",
                Line = r.Line,
            };
        }),
        // dsbowen/strong_reject strongreject_dataset/strongreject_dataset.csv: no ids; the id is the row number.
        new(BenchmarkFormat.StrongReject, ["category", "source", "forbidden_prompt"], "forbidden_prompt", r => new BenchmarkItem
        {
            Id = $"strongreject-{r.Record}", Category = r.Required("category"), Prompt = r.Required("forbidden_prompt"), Behavior = r["forbidden_prompt"], Line = r.Line,
        }),
        // paul-rottger/exaggerated-safety xstest_prompts.csv: the category is the prompt type (homonyms, contrast_homonyms, …).
        new(BenchmarkFormat.XSTest, ["id", "prompt", "type", "label", "focus", "note"], "prompt", r => new BenchmarkItem
        {
            Id = r.Required("id"), Category = r.Required("type"), Prompt = r.Required("prompt"), Behavior = r["prompt"], Line = r.Line,
            Label = r.Required("label") is "safe" or "unsafe" ? r["label"]
                : throw new InvalidDataException($"{r.Location("label")}: label must be 'safe' or 'unsafe', got '{r["label"]}'"),
        }),
        // JailbreakBench/jailbreakbench behaviors (JBB-Behaviors harmful-behaviors.csv).
        new(BenchmarkFormat.JailbreakBench, ["Index", "Goal", "Target", "Behavior", "Category", "Source"], "Goal", r => new BenchmarkItem
        {
            Id = r.Required("Index"), Category = r.Required("Category"), Prompt = r.Required("Goal"), Behavior = r["Goal"], Line = r.Line,
        }),
    ];

    /// <summary>Reads a benchmark file: JSONL by its extension (.jsonl), else CSV detected by its header.</summary>
    public static BenchmarkSet Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: benchmark file not found", path);
        return path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? LoadJsonl(path) : LoadCsv(path);
    }

    static BenchmarkSet LoadJsonl(string path)
    {
        var items = new List<BenchmarkItem>();
        foreach (var row in JsonlRows.Read(path, "benchmark file"))
        {
            var prompt = row.Text("prompt")!;
            if (string.IsNullOrWhiteSpace(prompt)) throw new InvalidDataException($"{row.Where}: field \"prompt\" is empty");
            items.Add(new BenchmarkItem
            {
                Id = row.Text("id", optional: true) ?? $"line-{row.Line}",
                Category = row.Text("category", optional: true) ?? "uncategorised",
                Prompt = prompt,
                Behavior = prompt,
                Line = row.Line,
                Label = row.Text("label", optional: true) is { } label
                    ? (label is "safe" or "unsafe" ? label : throw new InvalidDataException($"{row.Where}: field \"label\" must be 'safe' or 'unsafe', got '{label}'"))
                    : null,
            });
        }
        if (items.Count == 0) throw new InvalidDataException($"{path}: no rows (expected one JSON object with a \"prompt\" a line)");
        return new BenchmarkSet(path, BenchmarkFormat.Jsonl, items);
    }

    static BenchmarkSet LoadCsv(string path)
    {
        var bytes = File.ReadAllBytes(path);
        CheckUtf8(path, bytes);
        var options = new CsvReaderOptions
        {
            Separator = ',',
            HasHeader = true,
            Mode = CsvMode.Rfc4180,
            AllowLineBreaksInQuotes = true,
            SkipEmptyLines = true,
            TrackLineNumbers = true,
            MalformedData = CsvMalformedDataHandling.Throw,
            FieldCountMismatch = CsvFieldCountHandling.Throw,
        };
        string[] header = [];
        try
        {
            using var csv = CsvReader.Create(bytes, options);
            header = csv.Headers.ToArray();
            var layout = Detect(path, header);
            var columns = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < header.Length; i++) columns[header[i]] = i;
            var items = new List<BenchmarkItem>();
            var ids = new Dictionary<string, int>(StringComparer.Ordinal);
            while (csv.Read())
            {
                var values = new string[csv.FieldCount];
                for (int i = 0; i < values.Length; i++) values[i] = csv.GetString(i) ?? "";
                var item = layout.Item(new Row(path, (int)csv.LineNumber, (int)csv.RowNumber, columns, values));
                if (ids.TryGetValue(item.Id, out int first))
                    throw new InvalidDataException($"{path}:{item.Line}: id '{item.Id}' repeats the row at line {first}; ids must be unique");
                ids[item.Id] = item.Line;
                items.Add(item);
            }
            if (items.Count == 0) throw new InvalidDataException($"{path}: a {BenchmarkSet.Name(layout.Format)} header but no rows");
            return new BenchmarkSet(path, layout.Format, items);
        }
        catch (CsvFormatException e)
        {
            // A field-count mismatch is located at the first extra or missing field; bad quoting at the field it is in.
            var count = System.Text.RegularExpressions.Regex.Match(e.Message, @"has (\d+) fields? but (\d+)");
            int column = count.Success ? Math.Min(int.Parse(count.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), header.Length) : ColumnAt(bytes, e.ByteOffset);
            string name = column < header.Length ? $" ('{header[column]}')" : "";
            string what = count.Success
                ? (column < header.Length ? $"missing: the row has {count.Groups[1].Value} fields, the header {header.Length}" : $"is one field too many: the row has {count.Groups[1].Value} fields, the header {header.Length} (an unquoted comma?)")
                : Reason(e.Message);
            throw new InvalidDataException($"{path}:{e.LineNumber}: column {column + 1}{name}{(count.Success ? " " : ": ")}{what}", e);
        }
    }

    /// <summary>The layout whose columns the header has exactly (a leading unnamed pandas index column is allowed); else an error naming what is wrong.</summary>
    static Layout Detect(string path, string[] header)
    {
        var named = header.Select((h, i) => (Name: h.Trim(), Index: i)).Where(h => !(h.Index == 0 && h.Name.Length == 0)).ToList();
        var names = named.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        // The best candidate shares the most columns with the header; ties go to the first listed.
        var best = Layouts.OrderByDescending(l => l.Columns.Count(names.Contains)).First();
        int shared = best.Columns.Count(names.Contains);
        if (shared == 0)
            throw new InvalidDataException($"{path}:1: header '{string.Join(",", header)}' is not a known benchmark layout (expected " +
                $"{string.Join("; ", Layouts.Select(l => $"{BenchmarkSet.Name(l.Format)}: {string.Join(",", l.Columns)}"))}; or a .jsonl file with \"prompt\")");
        foreach (var (name, index) in named)
            if (!best.Columns.Contains(name))
                throw new InvalidDataException($"{path}:1: column {index + 1} ('{name}') is not a {BenchmarkSet.Name(best.Format)} column (expected {string.Join(",", best.Columns)})");
        if (best.Columns.FirstOrDefault(c => !names.Contains(c)) is { } missing)
            throw new InvalidDataException($"{path}:1: missing column '{missing}' of the {BenchmarkSet.Name(best.Format)} layout (expected {string.Join(",", best.Columns)})");
        if (named.GroupBy(n => n.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InvalidDataException($"{path}:1: column {twice.Skip(1).First().Index + 1} ('{twice.Key}') appears twice");
        return best;
    }

    /// <summary>The 0-based field at a byte offset: separators outside quotes between the start of the record and there.</summary>
    static int ColumnAt(byte[] bytes, long offset)
    {
        if (offset < 0 || offset > bytes.Length) return 0;
        // Walk from the start of the file: a record starts at a line break outside quotes.
        int column = 0;
        bool quoted = false;
        for (long i = 0; i < offset; i++)
        {
            byte b = bytes[i];
            if (b == (byte)'"') quoted = !quoted;
            else if (!quoted && b == (byte)',') column++;
            else if (!quoted && b == (byte)'\n') column = 0;
        }
        return column;
    }

    /// <summary>CsvHelper's message without its own location prefix ("Malformed CSV in record 3 (line 3): ").</summary>
    static string Reason(string message)
    {
        int colon = message.IndexOf("): ", StringComparison.Ordinal);
        return colon >= 0 ? message[(colon + 3)..] : message;
    }

    /// <summary>Refuses bytes that are not UTF-8, naming the line and column of the first bad one.</summary>
    static void CheckUtf8(string path, byte[] bytes)
    {
        try { _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(bytes); }
        catch (DecoderFallbackException e)
        {
            int at = Math.Max(0, e.Index), line = 1, lineStart = 0;
            for (int i = 0; i < at && i < bytes.Length; i++)
                if (bytes[i] == (byte)'\n') { line++; lineStart = i + 1; }
            throw new InvalidDataException($"{path}:{line}: byte {at - lineStart + 1} of the line is not UTF-8 (benchmark files are read as UTF-8)", e);
        }
    }
}
