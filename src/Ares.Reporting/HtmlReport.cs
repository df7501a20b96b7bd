using System.Globalization;
using System.Net;
using System.Text;
using Ares.RedTeam.Probe;

namespace Ares.Reporting;

/// <summary>One piece of a report section; renders itself as HTML with every text HTML-encoded.</summary>
internal interface IReportBlock
{
    void Render(StringBuilder html);
}

/// <summary>A paragraph of plain text.</summary>
internal sealed record Paragraph(string Text) : IReportBlock
{
    public void Render(StringBuilder html) => html.Append("<p>").Append(HtmlReport.Encode(Text)).Append("</p>\n");
}

/// <summary>A table with a header row. Rates go in as <see cref="Rate"/> cells so counts and intervals are never dropped.</summary>
internal sealed record ReportTable(string? Caption, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows) : IReportBlock
{
    /// <summary>"rate [low, high] (k/n)": the Wilson interval and the counts beside the rate.</summary>
    public static string Rate(Proportion p) => p.ToString();

    public void Render(StringBuilder html)
    {
        foreach (var (row, i) in Rows.Select((r, i) => (r, i)))
            if (row.Count != Headers.Count)
                throw new ArgumentException($"table '{Caption}': row {i} has {row.Count} cells, the header has {Headers.Count}");
        html.Append("<table>");
        if (Caption is not null) html.Append("<caption>").Append(HtmlReport.Encode(Caption)).Append("</caption>");
        html.Append("\n<thead><tr>");
        foreach (var h in Headers) html.Append("<th>").Append(HtmlReport.Encode(h)).Append("</th>");
        html.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in Rows)
        {
            html.Append("<tr>");
            foreach (var cell in row) html.Append("<td>").Append(HtmlReport.Encode(cell)).Append("</td>");
            html.Append("</tr>\n");
        }
        html.Append("</tbody></table>\n");
    }
}

/// <summary>An example case: labelled fields (prompt, response, ...) each cut to <see cref="MaxChars"/> with a visible marker.</summary>
internal sealed record ExampleCase(string Title, IReadOnlyList<KeyValuePair<string, string>> Fields, int MaxChars = 600) : IReportBlock
{
    public void Render(StringBuilder html)
    {
        html.Append("<div class=\"case\"><h3>").Append(HtmlReport.Encode(Title)).Append("</h3>\n<dl>");
        foreach (var (key, value) in Fields)
            html.Append("<dt>").Append(HtmlReport.Encode(key)).Append("</dt><dd><pre>")
                .Append(HtmlReport.Encode(HtmlReport.Truncate(value, MaxChars))).Append("</pre></dd>\n");
        html.Append("</dl></div>\n");
    }
}

/// <summary>Where the numbers came from: run id, model identities, versions, seeds, config.</summary>
internal sealed record ProvenanceBlock(IReadOnlyList<KeyValuePair<string, string>> Entries) : IReportBlock
{
    public void Render(StringBuilder html)
    {
        html.Append("<table class=\"provenance\"><tbody>\n");
        foreach (var (key, value) in Entries)
            html.Append("<tr><th>").Append(HtmlReport.Encode(key)).Append("</th><td><code>")
                .Append(HtmlReport.Encode(value)).Append("</code></td></tr>\n");
        html.Append("</tbody></table>\n");
    }
}

/// <summary>A chart as an inline SVG document (from <see cref="Charts"/>), with an optional caption.</summary>
internal sealed record ReportChart(string Svg, string? Caption = null) : IReportBlock
{
    public void Render(StringBuilder html)
    {
        // The SVG is our own ScottPlot output, not user text: it is embedded as markup, not encoded.
        html.Append("<figure class=\"chart\">\n").Append(Svg).Append('\n');
        if (Caption is not null) html.Append("<figcaption>").Append(HtmlReport.Encode(Caption)).Append("</figcaption>");
        html.Append("</figure>\n");
    }
}

/// <summary>A titled section of blocks, in order.</summary>
internal sealed class ReportSection(string title)
{
    public string Title { get; } = title;
    public List<IReportBlock> Blocks { get; } = [];

    public ReportSection Paragraph(string text) => Add(new Paragraph(text));
    public ReportSection Table(string? caption, IReadOnlyList<string> headers, IReadOnlyList<IReadOnlyList<string>> rows) => Add(new ReportTable(caption, headers, rows));
    public ReportSection Example(string title, IReadOnlyList<KeyValuePair<string, string>> fields, int maxChars = 600) => Add(new ExampleCase(title, fields, maxChars));
    public ReportSection Provenance(IReadOnlyList<KeyValuePair<string, string>> entries) => Add(new ProvenanceBlock(entries));
    public ReportSection Chart(string svg, string? caption = null) => Add(new ReportChart(svg, caption));

    public ReportSection Add(IReportBlock block)
    {
        Blocks.Add(block);
        return this;
    }
}

/// <summary>
/// A self-contained HTML report: one UTF-8 file with inline CSS and inline SVG charts, no scripts
/// and no external resources, so it opens anywhere and can be archived beside a run.
/// </summary>
internal sealed class HtmlReport(string title)
{
    public const string TruncationMarker = "… [truncated]";

    public string Title { get; } = title;
    public List<ReportSection> Sections { get; } = [];
    /// <summary>When the report was generated; shown under the title.</summary>
    public DateTime GeneratedUtc { get; init; } = DateTime.UtcNow;

    public ReportSection Section(string title)
    {
        var s = new ReportSection(title);
        Sections.Add(s);
        return s;
    }

    public static string Encode(string text) => WebUtility.HtmlEncode(text);

    /// <summary>The text cut to at most <paramref name="maxChars"/> characters followed by <see cref="TruncationMarker"/>, or unchanged when it fits.</summary>
    public static string Truncate(string text, int maxChars)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxChars);
        if (text.Length <= maxChars) return text;
        int cut = maxChars;
        if (cut > 0 && char.IsHighSurrogate(text[cut - 1])) cut--; // never split a surrogate pair
        return text[..cut] + TruncationMarker;
    }

    public string Render()
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
            .Append(Encode(Title)).Append("</title>\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n<h1>")
            .Append(Encode(Title)).Append("</h1>\n<p class=\"generated\">Generated ")
            .Append(Encode(GeneratedUtc.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture))).Append("</p>\n");
        if (Sections.Count > 1)
        {
            html.Append("<nav><ol>");
            for (int i = 0; i < Sections.Count; i++)
                html.Append("<li><a href=\"#s").Append(i + 1).Append("\">").Append(Encode(Sections[i].Title)).Append("</a></li>");
            html.Append("</ol></nav>\n");
        }
        for (int i = 0; i < Sections.Count; i++)
        {
            html.Append("<section id=\"s").Append(i + 1).Append("\">\n<h2>").Append(Encode(Sections[i].Title)).Append("</h2>\n");
            foreach (var block in Sections[i].Blocks) block.Render(html);
            html.Append("</section>\n");
        }
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>Writes the report as UTF-8 (no BOM) atomically: a temp file beside the target, then a rename, so readers never see half a report.</summary>
    public void Write(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: the folder {dir} does not exist");
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temp, Render(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    const string Css = """
        body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
        h1 { margin-bottom: 0.2em; }
        .generated { color: #666; margin-top: 0; }
        section { margin-top: 2.5em; }
        h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
        table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
        caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
        th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
        thead th { background: #f2f2f2; }
        td { font-variant-numeric: tabular-nums; }
        .provenance th { background: #f7f7f7; white-space: nowrap; }
        .provenance code { white-space: pre-wrap; word-break: break-all; }
        .case { border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 1em; margin: 1em 0; background: #fcfcfc; }
        .case h3 { margin: 0.3em 0; font-size: 1em; }
        dt { font-weight: 600; margin-top: 0.4em; }
        dd { margin: 0 0 0 1em; }
        pre { white-space: pre-wrap; word-break: break-word; margin: 0.2em 0; font-size: 0.9em; }
        figure.chart { margin: 1.5em 0; }
        figure.chart svg { max-width: 100%; height: auto; display: block; }
        figcaption { color: #555; font-size: 0.9em; }

        """;
}
