using System.Text.RegularExpressions;
using Ares.RedTeam.Store;
using ScottPlot;

namespace Ares.Reporting;

/// <summary>One bar series of a grouped bar chart: a value per category and, optionally, its interval (drawn as a whisker).</summary>
internal sealed record BarSeries(string Name, IReadOnlyList<double> Values, IReadOnlyList<(double Low, double High)>? Intervals = null);

/// <summary>A named series of points (a line, a scatter cloud).</summary>
internal sealed record XySeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>A named sample of values (e.g. reward-model margins) for a histogram.</summary>
internal sealed record ValueSample(string Name, IReadOnlyList<double> Values);

/// <summary>
/// The report's charts, drawn with ScottPlot and exported as SVG markup ready to inline in HTML.
/// Each chart gets its own id prefix, because SVG ids (clip paths) are document-global once
/// several SVGs share one page.
/// </summary>
internal static partial class Charts
{
    public const int Width = 900;
    public const int Height = 420;

    // Colour-blind-safe (Okabe–Ito), so before/after series stay distinguishable.
    static readonly Color[] Palette =
    [
        Color.FromHex("#0072B2"), Color.FromHex("#E69F00"), Color.FromHex("#009E73"), Color.FromHex("#D55E00"),
        Color.FromHex("#CC79A7"), Color.FromHex("#56B4E9"), Color.FromHex("#F0E442"), Color.FromHex("#000000"),
    ];

    static int _nextId;

    public static Color SeriesColor(int i) => Palette[i % Palette.Length];

    /// <summary>Bars grouped per category, one bar per series (e.g. taxonomy before/after per class), with interval whiskers.</summary>
    public static string GroupedBars(string title, IReadOnlyList<string> categories, IReadOnlyList<BarSeries> series, string yLabel, double? yMax = null)
    {
        if (categories.Count == 0 || series.Count == 0) throw new ArgumentException($"chart '{title}': needs at least one category and one series");
        var plot = NewPlot(title, null, yLabel);
        double group = 0.8, width = group / series.Count;
        for (int s = 0; s < series.Count; s++)
        {
            var sr = series[s];
            if (sr.Values.Count != categories.Count)
                throw new ArgumentException($"chart '{title}': series '{sr.Name}' has {sr.Values.Count} values for {categories.Count} categories");
            if (sr.Intervals is { } ivs && ivs.Count != categories.Count)
                throw new ArgumentException($"chart '{title}': series '{sr.Name}' has {ivs.Count} intervals for {categories.Count} categories");
            double X(int c) => c - group / 2 + width * (s + 0.5);
            plot.Add.Bars(categories.Select((_, c) => new Bar { Position = X(c), Value = Finite(sr.Values[c]), Size = width * 0.92, FillColor = SeriesColor(s), LineWidth = 0 }).ToList());
            // Whiskers after the bars, so the part of the interval below the rate stays visible on top of its bar.
            for (int c = 0; sr.Intervals is { } iv && c < categories.Count; c++)
            {
                if (!double.IsFinite(iv[c].Low) || !double.IsFinite(iv[c].High)) continue;
                var whisker = plot.Add.Line(X(c), iv[c].Low, X(c), iv[c].High);
                whisker.Color = Colors.Black;
                whisker.LineWidth = 1.5f;
            }
            if (series.Count > 1) plot.Legend.ManualItems.Add(new LegendItem { LabelText = sr.Name, FillColor = SeriesColor(s) });
        }
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, categories.Count).Select(i => (double)i)], [.. categories]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: 0);
        if (yMax is double top) plot.Axes.SetLimitsY(0, top);
        if (series.Count > 1) plot.ShowLegend(Alignment.UpperRight);
        return Svg(plot);
    }

    /// <summary>
    /// A heatmap: <paramref name="values"/>[row, column], NaN for "no data" (drawn blank). Rows are
    /// listed top to bottom in the given order, with a colour bar labelled <paramref name="valueLabel"/>.
    /// </summary>
    public static string Heatmap(string title, IReadOnlyList<string> rows, IReadOnlyList<string> columns, double[,] values, string valueLabel)
    {
        if (values.GetLength(0) != rows.Count || values.GetLength(1) != columns.Count)
            throw new ArgumentException($"chart '{title}': values are {values.GetLength(0)}×{values.GetLength(1)}, labels {rows.Count}×{columns.Count}");
        if (rows.Count == 0 || columns.Count == 0) throw new ArgumentException($"chart '{title}': needs at least one row and one column");
        var plot = NewPlot(title, null, null);
        var map = plot.Add.Heatmap(values);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.NaNCellColor = Colors.White;
        // Cell (r, c) spans [c-0.5, c+0.5] × [R-1-r-0.5, R-1-r+0.5]: row 0 on top, as in the table beside it.
        map.Extent = new CoordinateRect(-0.5, columns.Count - 0.5, -0.5, rows.Count - 0.5);
        var bar = plot.Add.ColorBar(map);
        bar.Label = valueLabel;
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, columns.Count).Select(i => (double)i)], [.. columns]);
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, rows.Count).Select(i => (double)(rows.Count - 1 - i))], [.. rows]);
        plot.Axes.SetLimits(-0.5, columns.Count - 0.5, -0.5, rows.Count - 0.5);
        int height = Math.Max(Height, 120 + 22 * rows.Count);
        return Svg(plot, Width, height);
    }

    /// <summary>Overlaid histograms on shared bins (e.g. RM margins before/after repair), as translucent bars.</summary>
    public static string HistogramOverlay(string title, IReadOnlyList<ValueSample> samples, string xLabel, int bins = 30)
    {
        var finite = samples.SelectMany(s => s.Values).Where(double.IsFinite).ToList();
        if (finite.Count == 0) throw new ArgumentException($"chart '{title}': no finite values to bin");
        double lo = finite.Min(), hi = finite.Max();
        if (hi <= lo) { lo -= 0.5; hi += 0.5; }
        var plot = NewPlot(title, xLabel, "count");
        double w = (hi - lo) / bins;
        for (int s = 0; s < samples.Count; s++)
        {
            var counts = BinCounts(samples[s].Values, lo, hi, bins);
            var color = SeriesColor(s).WithAlpha(0.55);
            plot.Add.Bars(counts.Select((n, i) => new Bar { Position = lo + w * (i + 0.5), Value = n, Size = w, FillColor = color, LineWidth = 0 }).ToList());
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = $"{samples[s].Name} (n={samples[s].Values.Count(double.IsFinite)})", FillColor = color });
        }
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperRight);
        return Svg(plot);
    }

    /// <summary>How many finite values fall in each of <paramref name="bins"/> equal bins over [lo, hi]; hi itself goes in the last bin.</summary>
    public static int[] BinCounts(IEnumerable<double> values, double lo, double hi, int bins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var counts = new int[bins];
        foreach (var v in values)
        {
            if (!double.IsFinite(v) || v < lo || v > hi) continue;
            counts[Math.Min(bins - 1, (int)((v - lo) / (hi - lo) * bins))]++;
        }
        return counts;
    }

    /// <summary>Lines (e.g. training curves), one per series, with a legend.</summary>
    public static string Lines(string title, IReadOnlyList<XySeries> series, string xLabel, string yLabel) =>
        Xy(title, series, xLabel, yLabel, lines: true);

    /// <summary>A scatter of points per series (e.g. attack success vs diversity).</summary>
    public static string Scatter(string title, IReadOnlyList<XySeries> series, string xLabel, string yLabel) =>
        Xy(title, series, xLabel, yLabel, lines: false);

    /// <summary>Training curves from run-store metrics: one series per (phase, key), x = step, in the order appended.</summary>
    public static IReadOnlyList<XySeries> SeriesFromMetrics(IEnumerable<MetricPoint> points, Func<string, bool>? keyFilter = null) =>
        [.. points.Where(p => keyFilter?.Invoke(p.Key) ?? true)
            .GroupBy(p => (p.Phase, p.Key))
            .Select(g => new XySeries($"{g.Key.Phase}/{g.Key.Key}", [.. g.Select(p => (double)p.Step)], [.. g.Select(p => p.Value)]))];

    static string Xy(string title, IReadOnlyList<XySeries> series, string xLabel, string yLabel, bool lines)
    {
        if (series.Count == 0) throw new ArgumentException($"chart '{title}': needs at least one series");
        var plot = NewPlot(title, xLabel, yLabel);
        for (int s = 0; s < series.Count; s++)
        {
            var sr = series[s];
            if (sr.X.Count != sr.Y.Count) throw new ArgumentException($"chart '{title}': series '{sr.Name}' has {sr.X.Count} x and {sr.Y.Count} y values");
            var sc = plot.Add.Scatter(sr.X.ToArray(), sr.Y.ToArray(), SeriesColor(s));
            sc.LegendText = sr.Name;
            sc.LineWidth = lines ? 2 : 0;
            sc.MarkerSize = lines ? (sr.X.Count <= 30 ? 4 : 0) : 7;
        }
        if (series.Count > 1) plot.ShowLegend(Alignment.UpperRight);
        return Svg(plot);
    }

    static Plot NewPlot(string title, string? xLabel, string? yLabel)
    {
        var plot = new Plot();
        plot.Title(title);
        if (xLabel is not null) plot.XLabel(xLabel);
        if (yLabel is not null) plot.YLabel(yLabel);
        return plot;
    }

    static double Finite(double v) => double.IsFinite(v) ? v : 0;

    static string Svg(Plot plot, int width = Width, int height = Height)
    {
        string svg = plot.GetSvgXml(width, height);
        svg = XmlDeclaration().Replace(svg, "");
        // Scope the SVG's ids to this chart: inline SVGs share one id space in the page.
        string prefix = $"c{Interlocked.Increment(ref _nextId)}-";
        svg = IdAttribute().Replace(svg, m => $"id=\"{prefix}{m.Groups[1].Value}\"");
        svg = UrlReference().Replace(svg, m => $"url(#{prefix}{m.Groups[1].Value})");
        svg = HrefReference().Replace(svg, m => $"{m.Groups[1].Value}=\"#{prefix}{m.Groups[2].Value}\"");
        // Heatmap cells are a tiny bitmap scaled up by the browser: keep each cell a crisp square.
        svg = svg.Replace("<image ", "<image style=\"image-rendering:pixelated\" ");
        return svg.Trim();
    }

    [GeneratedRegex(@"^\s*<\?xml[^>]*\?>\s*")]
    private static partial Regex XmlDeclaration();
    [GeneratedRegex("\\bid=\"([^\"]+)\"")]
    private static partial Regex IdAttribute();
    [GeneratedRegex(@"url\(#([^)]+)\)")]
    private static partial Regex UrlReference();
    [GeneratedRegex("\\b(href|xlink:href)=\"#([^\"]+)\"")]
    private static partial Regex HrefReference();
}
