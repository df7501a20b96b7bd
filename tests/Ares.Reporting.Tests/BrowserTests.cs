using System.Diagnostics;
using System.Text.RegularExpressions;
using SkiaSharp;

namespace Ares.Reporting;

/// <summary>
/// Opens a full report (every chart type) in headless Chromium: the page must load without
/// errors, every chart must lay out with a non-zero size and real shapes, and the screenshot must
/// not be blank. Chromium is a test dependency: test.sh (build/test-deps.sh) installs Debian's <c>chromium</c>.
/// </summary>
public class BrowserTests
{
    [Fact]
    public void The_report_renders_in_headless_chromium_with_every_chart_laid_out()
    {
        var report = SampleData.FullReport();
        Assert.Equal(7, report.Sections.SelectMany(s => s.Blocks).OfType<ReportChart>().Count()); // taxonomy, 2 heatmaps, training curves; before/after taxonomy, margin histogram, scatter
        AssertRendersInChromium(report);
    }

    /// <summary>
    /// Writes the report, opens it in headless Chromium and checks: no page errors, every chart laid
    /// out at a real size with shapes and text, and a screenshot that is neither blank nor colourless.
    /// </summary>
    internal static void AssertRendersInChromium(HtmlReport report)
    {
        var chromium = FindChromium();
        using var dir = new TempDirectory();
        var reportPath = dir.File("report.html");
        report.Write(reportPath);
        int charts = report.Sections.SelectMany(s => s.Blocks).OfType<ReportChart>().Count();
        Assert.True(charts > 0, "the report has no charts");

        // A probe copy of the report with a measuring script appended: the report itself needs no scripts.
        var probePath = dir.File("probe.html");
        File.WriteAllText(probePath, File.ReadAllText(reportPath).Replace("<head>", "<head>" + ErrorCounter).Replace("</body>", Probe + "</body>"));
        var (dom, log) = RunChromium(chromium, dir.Path, "--dump-dom", new Uri(probePath).AbsoluteUri);
        var results = Regex.Match(dom, "<pre id=\"ares-probe\">([^<]*)</pre>");
        Assert.True(results.Success, $"the measuring script did not run; chromium said:\n{log}");
        var lines = results.Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("errors=0", lines[0]);
        var svgs = lines.Skip(1).ToList();
        Assert.Equal(charts, svgs.Count);
        foreach (var line in svgs)
        {
            // "w h shapes texts"
            var f = line.Split(' ').Select(double.Parse).ToArray();
            Assert.True(f[0] > 200 && f[1] > 100, $"chart laid out at {f[0]}×{f[1]} px");
            Assert.True(f[2] > 10, $"chart has only {f[2]} shapes");
            Assert.True(f[3] > 3, $"chart has only {f[3]} text elements");
        }
        Assert.DoesNotContain("Uncaught", log);

        var png = dir.File("shot.png");
        RunChromium(chromium, dir.Path, $"--screenshot={png}", "--window-size=1200,2400", new Uri(reportPath).AbsoluteUri);
        using var bitmap = SKBitmap.Decode(png) ?? throw new InvalidOperationException($"{png}: chromium wrote no decodable screenshot");
        int nonWhite = 0, coloured = 0, total = 0;
        for (int y = 0; y < bitmap.Height; y += 2)
            for (int x = 0; x < bitmap.Width; x += 2)
            {
                var p = bitmap.GetPixel(x, y);
                total++;
                if (p.Red < 240 || p.Green < 240 || p.Blue < 240) nonWhite++;
                if (Math.Max(p.Red, Math.Max(p.Green, p.Blue)) - Math.Min(p.Red, Math.Min(p.Green, p.Blue)) > 60) coloured++;
            }
        Assert.True(nonWhite > total / 50, $"screenshot is nearly blank: {nonWhite}/{total} non-white pixels");
        Assert.True(coloured > total / 200, $"screenshot has almost no coloured (chart) pixels: {coloured}/{total}");
    }

    const string ErrorCounter = "<script>window.__aresErrors = 0; window.addEventListener('error', function () { window.__aresErrors++; }, true);</script>";

    const string Probe = """
        <pre id="ares-probe"></pre>
        <script>
        (function () {
          var errors = window.__aresErrors || 0;
          var out = ["errors=" + errors];
          document.querySelectorAll("figure.chart > svg").forEach(function (svg) {
            var r = svg.getBoundingClientRect();
            var shapes = svg.querySelectorAll("path, rect, line, polyline, polygon, circle, image").length;
            var texts = svg.querySelectorAll("text").length;
            out.push(Math.round(r.width) + " " + Math.round(r.height) + " " + shapes + " " + texts);
          });
          document.getElementById("ares-probe").textContent = out.join("\n");
        })();
        </script>
        """;

    static string FindChromium()
    {
        foreach (var name in new[] { Environment.GetEnvironmentVariable("ARES_CHROMIUM"), "chromium", "chromium-browser", "google-chrome" })
        {
            if (string.IsNullOrEmpty(name)) continue;
            if (Path.IsPathRooted(name) && File.Exists(name)) return name;
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        }
        Assert.Fail("headless Chromium not found: install Debian's 'chromium' package (./test.sh does, through build/test-deps.sh, when run as root on Debian) or set ARES_CHROMIUM to a Chrome/Chromium binary");
        return "";
    }

    static (string Stdout, string Stderr) RunChromium(string chromium, string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDir,
        };
        foreach (var a in new[] { "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
                     "--hide-scrollbars", $"--user-data-dir={Path.Combine(workDir, "profile")}", "--virtual-time-budget=5000" })
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {chromium}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{chromium} {string.Join(' ', args)} did not finish in 30 s");
        }
        Assert.True(p.ExitCode == 0, $"{chromium} exited {p.ExitCode}:\n{stderr.Result}");
        return (stdout.Result, stderr.Result);
    }
}
