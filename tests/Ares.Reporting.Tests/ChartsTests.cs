using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Ares.Reporting;

public class ChartsTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void Every_chart_type_exports_well_formed_svg_with_shapes_and_text()
    {
        string[] svgs =
        [
            Charts.GroupedBars("bars", ["a", "b"], [new BarSeries("before", [10, 20], [(5, 15), (12, 28)]), new BarSeries("after", [5, 8])], "%"),
            Charts.Heatmap("heat", ["r1", "r2"], ["c1", "c2", "c3"], new double[,] { { 1, 2, double.NaN }, { 4, 5, 6 } }, "%"),
            Charts.HistogramOverlay("hist", [new ValueSample("before", SampleData.Normal(200, 0, 1, 1)), new ValueSample("after", SampleData.Normal(200, 1, 1, 2))], "margin"),
            Charts.Lines("lines", Charts.SeriesFromMetrics(SampleData.Metrics()), "step", "value"),
            Charts.Scatter("scatter", [new XySeries("p", [0.1, 0.5, 0.9], [0.2, 0.4, 0.3])], "diversity", "success"),
        ];
        string[] titles = ["bars", "heat", "hist", "lines", "scatter"];
        for (int i = 0; i < svgs.Length; i++)
        {
            Assert.StartsWith("<svg", svgs[i]);
            var doc = XDocument.Parse(svgs[i]);
            int shapes = doc.Descendants().Count(e => e.Name.LocalName is "path" or "rect" or "line" or "polyline" or "polygon" or "circle" or "image");
            Assert.True(shapes > 10, $"{titles[i]}: only {shapes} shape elements");
            // Text is exported as text (not outlines), so the title is searchable in the page.
            Assert.Contains(doc.Descendants().Where(e => e.Name.LocalName == "text"), t => t.Value.Contains(titles[i]));
        }
    }

    [Fact]
    public void Ids_are_unique_across_charts_so_inline_svgs_do_not_share_clip_paths()
    {
        var a = Charts.Scatter("a", [new XySeries("p", [0, 1], [0, 1])], "x", "y");
        var b = Charts.Scatter("b", [new XySeries("p", [0, 1], [0, 1])], "x", "y");
        var ids = Regex.Matches(a + b, "\\bid=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (Match m in Regex.Matches(a + b, @"url\(#([^)]+)\)")) Assert.Contains(m.Groups[1].Value, ids);
    }

    [Fact]
    public void Bin_counts_match_hand_counted_bins()
    {
        // Bins over [0, 1] in 4: [0, .25) [.25, .5) [.5, .75) [.75, 1]; 1.0 goes in the last, out-of-range and NaN are dropped.
        Assert.Equal([2, 1, 0, 2], Charts.BinCounts([0, 0.1, 0.3, 0.8, 1.0, 1.5, -0.1, double.NaN], 0, 1, 4));
    }

    [Fact]
    public void Metric_points_become_one_series_per_phase_and_key_in_step_order()
    {
        var series = Charts.SeriesFromMetrics(SampleData.Metrics());
        Assert.Equal(["rm/loss", "rm/accuracy"], series.Select(s => s.Name));
        Assert.Equal(40, series[0].X.Count);
        Assert.Equal(0.75, series[0].Y[0], 12);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (double)i), series[1].X);
    }

    [Fact]
    public void Mismatched_chart_inputs_are_refused_with_the_chart_named()
    {
        var e = Assert.Throws<ArgumentException>(() => Charts.GroupedBars("taxonomy", ["a", "b"], [new BarSeries("s", [1])], "%"));
        Assert.Contains("chart 'taxonomy': series 's' has 1 values for 2 categories", e.Message);
        Assert.Throws<ArgumentException>(() => Charts.Heatmap("h", ["r"], ["c"], new double[2, 1], "%"));
    }
}
