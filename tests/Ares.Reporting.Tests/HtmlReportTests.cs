using System.Text;
using Ares.RedTeam.Probe;

namespace Ares.Reporting;

public class HtmlReportTests
{
    const string Hostile = "<script>alert('x')</script> & \"quoted\"";

    [Fact]
    public void Every_text_is_html_encoded()
    {
        var report = new HtmlReport(Hostile);
        report.Section(Hostile)
            .Paragraph(Hostile)
            .Table(Hostile, [Hostile], [[Hostile]])
            .Example(Hostile, [new(Hostile, Hostile)])
            .Provenance([new(Hostile, Hostile)]);
        var html = report.Render();

        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("\"quoted\"", html);
        // title (twice), nav is absent for one section, h2, p, caption, th, td, h3, dt, dd, provenance th and td
        Assert.Equal(12, CountOf(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"));
    }

    [Fact]
    public void Truncation_cuts_long_text_and_marks_it()
    {
        Assert.Equal("short", HtmlReport.Truncate("short", 5));
        Assert.Equal("abc" + HtmlReport.TruncationMarker, HtmlReport.Truncate("abcdef", 3));
        Assert.Equal("… [truncated]", HtmlReport.TruncationMarker);
        // A surrogate pair (😀) is never split in half.
        Assert.Equal("a" + HtmlReport.TruncationMarker, HtmlReport.Truncate("a😀b", 2));
    }

    [Fact]
    public void Example_cases_truncate_their_fields_in_the_html()
    {
        var report = new HtmlReport("t");
        report.Section("s").Example("case", [new("response", new string('x', 50) + "TAIL")], maxChars: 50);
        var html = report.Render();
        Assert.Contains(new string('x', 50) + "… [truncated]", html);
        Assert.DoesNotContain("TAIL", html);
    }

    [Fact]
    public void Rate_cells_show_rate_interval_and_counts()
    {
        var cell = ReportTable.Rate(Proportion.Wilson(1, 4));
        Assert.Equal("25.0 % [4.6 %, 69.9 %] (1/4)", cell);
        Assert.Equal("– (0 cases)", ReportTable.Rate(Proportion.Wilson(0, 0)));
    }

    [Fact]
    public void A_row_with_the_wrong_number_of_cells_is_refused()
    {
        var report = new HtmlReport("t");
        report.Section("s").Table("rates", ["a", "b"], [["1"]]);
        var e = Assert.Throws<ArgumentException>(report.Render);
        Assert.Contains("table 'rates': row 0 has 1 cells, the header has 2", e.Message);
    }

    [Fact]
    public void Write_replaces_the_file_atomically_as_utf8_without_bom_and_leaves_no_temp_file()
    {
        using var dir = new TempDirectory();
        var path = dir.File("report.html");
        File.WriteAllText(path, "old");
        var report = new HtmlReport("naïve → report");
        report.Write(path);

        var bytes = File.ReadAllBytes(path);
        Assert.False(bytes.AsSpan().StartsWith(new byte[] { 0xEF, 0xBB, 0xBF }));
        Assert.Equal(report.Render(), Encoding.UTF8.GetString(bytes));
        Assert.Contains("<meta charset=\"utf-8\">", Encoding.UTF8.GetString(bytes));
        Assert.Equal(["report.html"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Write_into_a_missing_folder_names_it_and_writes_nothing()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<DirectoryNotFoundException>(() => new HtmlReport("t").Write(dir.File("missing/report.html")));
        Assert.Contains("missing", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void A_failed_render_leaves_the_previous_report_in_place()
    {
        using var dir = new TempDirectory();
        var path = dir.File("report.html");
        File.WriteAllText(path, "previous");
        var report = new HtmlReport("t");
        report.Section("s").Table("bad", ["a", "b"], [["1"]]);
        Assert.Throws<ArgumentException>(() => report.Write(path));
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    static int CountOf(string text, string part)
    {
        int n = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
