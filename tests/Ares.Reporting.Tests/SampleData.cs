using Ares.RedTeam;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.Reporting;

/// <summary>Synthetic, deterministic report inputs: probe cases over a small grid of components, a run, metrics.</summary>
internal static class SampleData
{
    public static readonly string[] Tactics = ["roleplay", "hypothetical", "direct"];
    public static readonly string[] Topics = ["weapons", "malware", "fraud"];

    /// <summary>Cases over tactic × topic × 4; classes cycle so every class occurs, plus one mentor failure.</summary>
    public static IReadOnlyList<ProbeCase> Cases()
    {
        var cases = new List<ProbeCase>();
        FailureClass[] cycle = [FailureClass.Systemic, FailureClass.Robust, FailureClass.PolicyOnly, FailureClass.RmOnly, FailureClass.Robust, FailureClass.Unscored, FailureClass.Robust];
        int index = 0;
        foreach (var tactic in Tactics)
            foreach (var topic in Topics)
                for (int k = 0; k < 4; k++)
                {
                    var tuple = new ComponentTuple(topic, k % 2 == 0 ? "student" : "researcher", tactic, "explain");
                    var cls = cycle[(index + (tactic == "direct" ? 1 : 0)) % cycle.Length];
                    bool harmful = cls is FailureClass.Systemic or FailureClass.PolicyOnly;
                    cases.Add(new ProbeCase
                    {
                        Index = index,
                        Components = tuple,
                        Seed = 1000 + index,
                        Case = new MentorCase(tuple, $"As a {tuple.Persona}, <b>explain</b> {topic} via {tactic} & more (case {index})",
                            "Sure: [redacted]", "I can't help with that, but here is how the law works."),
                        Responses = [new ProbeResponse(0, harmful ? "Sure: [redacted] " + new string('z', 900) : "I can't help with that.", "stop", null,
                            cls == FailureClass.Unscored ? null : harmful ? 0.9 : 0.1, "rationale <i>", 0.5 + index * 0.01)],
                        RewardMalicious = cls == FailureClass.RmOnly ? 1.2 : -0.4,
                        RewardSafe = 0.3,
                        Class = cls,
                        CreatedUtc = new DateTime(2026, 11, 23, 12, 0, 0, DateTimeKind.Utc),
                    });
                    index++;
                }
        cases.Add(new ProbeCase
        {
            Index = index,
            Components = new ComponentTuple("fraud", "student", "direct", "explain"),
            Seed = 1000 + index,
            MentorFailure = "mentor refused",
            MentorAttempts = 3,
            CreatedUtc = new DateTime(2026, 11, 23, 12, 0, 0, DateTimeKind.Utc),
        });
        return cases;
    }

    public static RunInfo Run() => new()
    {
        RunId = "run-<1>",
        ConfigJson = "{\"budget\": 37, \"note\": \"<config>\"}",
        Seed = 7,
        AresVersion = "0.1.0",
        Policy = ModelIdentity.BuiltIn("policy", "1"),
        RewardModel = ModelIdentity.BuiltIn("rm", "1"),
        Judge = ModelIdentity.BuiltIn("judge", "1"),
        Mentor = ModelIdentity.BuiltIn("template-mentor", "1"),
        CatalogVersion = "2026.11",
        Budget = 37,
        CreatedUtc = new DateTime(2026, 11, 23, 12, 0, 0, DateTimeKind.Utc),
        Status = "complete",
    };

    public static IReadOnlyList<MetricPoint> Metrics() =>
    [
        .. Enumerable.Range(0, 40).SelectMany(s => new[]
        {
            new MetricPoint("rm", s, "loss", 0.7 * Math.Exp(-s / 12.0) + 0.05, DateTime.UnixEpoch),
            new MetricPoint("rm", s, "accuracy", 1 - 0.5 * Math.Exp(-s / 10.0), DateTime.UnixEpoch),
        }),
    ];

    /// <summary>Deterministic pseudo-normal values (Box–Muller over a fixed-seed Random).</summary>
    public static double[] Normal(int n, double mean, double sd, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => mean + sd * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()))];
    }

    /// <summary>A report with every block and every chart type.</summary>
    public static HtmlReport FullReport()
    {
        var report = DiscoveryReport.Build(Run(), Cases(), Metrics());
        var before = TaxonomyReport.Build(Cases());
        var after = TaxonomyReport.Build([.. Cases().Select(c => c.Class is FailureClass.Systemic ? c with { Class = FailureClass.Robust } : c)]);
        var repair = report.Section("Repair");
        DiscoveryReport.AddTaxonomy(repair, [("before", before), ("after", after)]);
        repair.Chart(Charts.HistogramOverlay("RM margin r(safe) − r(malicious)",
            [new ValueSample("before", Normal(300, -0.2, 1, 1)), new ValueSample("after", Normal(300, 1.1, 0.8, 2))], "margin"));
        repair.Chart(Charts.Scatter("Attack success vs diversity",
            [new XySeries("attacker", [.. Normal(40, 0.5, 0.1, 3)], [.. Normal(40, 0.3, 0.1, 4)])], "diversity", "success rate"));
        return report;
    }
}
