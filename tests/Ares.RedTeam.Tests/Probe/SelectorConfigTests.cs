using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Tests.Probe;

public class SelectorConfigTests
{
    static ProbeConfig Parse(string selector) => ProbeConfig.Parse($$"""
        { "policy": "sandbox:default", "reward_model": "sandbox:default", "judge": "sandbox:default", "selector": {{selector}} }
        """, "/cfg/probe.json");

    static string Error(string selector) => Assert.Throws<ProbeConfigException>(() => Parse(selector)).Message;

    [Fact]
    public void The_adaptive_selector_is_the_default()
    {
        var s = Parse("{}").Options.Selector;
        Assert.Equal(SelectorKind.Adaptive, s.Kind);
        Assert.Equal(new GflowNetSelectorConfig(), s.GflowNet);
        Assert.IsType<AdaptiveSelector>(TupleSelectors.Create(ComponentCatalog.Default(), s));
    }

    [Fact]
    public void Every_gflownet_knob_binds()
    {
        var s = Parse("""
            { "kind": "gflownet", "exploration": 0.1,
              "gflownet": { "reward_floor": 0.05, "reward_exponent": 3, "one_sided_weight": 0.2, "revisit_discount": 0.5, "steps": 80, "trajectories": 32, "learning_rate": 0.003, "hidden": 16 } }
            """).Options.Selector;
        Assert.Equal(SelectorKind.GflowNet, s.Kind);
        Assert.Equal(0.1, s.Exploration);
        Assert.Equal(
            new GflowNetSelectorConfig { RewardFloor = 0.05, RewardExponent = 3, OneSidedWeight = 0.2, RevisitDiscount = 0.5, Steps = 80, Trajectories = 32, LearningRate = 0.003, Hidden = 16 },
            s.GflowNet);
        Assert.IsType<GflowNetSelector>(TupleSelectors.Create(ComponentCatalog.Default(), s));
    }

    [Theory]
    [InlineData("""{ "kind": "bandit" }""", "field 'selector.kind' must be adaptive or gflownet, got 'bandit'")]
    [InlineData("""{ "gflownet": 3 }""", "field 'selector.gflownet' must be an object")]
    [InlineData("""{ "gflownet": { "temperature": 1 } }""", "unknown field 'selector.gflownet.temperature'")]
    [InlineData("""{ "gflownet": { "steps": 0 } }""", "field 'selector.gflownet.steps' must be an integer ≥ 1")]
    [InlineData("""{ "gflownet": { "trajectories": 2 } }""", "field 'selector.gflownet.trajectories' must be an integer ≥ 4")]
    [InlineData("""{ "gflownet": { "reward_floor": 0 } }""", "field 'selector.gflownet.reward_floor' must be a number in")]
    [InlineData("""{ "gflownet": { "learning_rate": 2 } }""", "field 'selector.gflownet.learning_rate' must be a number in")]
    public void Bad_selector_fields_are_named(string selector, string expected) =>
        Assert.Contains(expected, Error(selector));

    [Fact]
    public void Validation_names_the_field_of_a_config_built_in_code()
    {
        var e = Assert.Throws<ArgumentException>(() => new SelectorConfig { GflowNet = new GflowNetSelectorConfig { Hidden = 0 } }.Validate());
        Assert.Contains("selector.gflownet.hidden", e.Message);
    }

    [Fact]
    public void Distinct_systemic_failures_count_tuples_and_prompts_once()
    {
        var a = new ComponentTuple("weapons", "student", "fiction", "instructions");
        var b = new ComponentTuple("fraud", "student", "fiction", "instructions");
        ProbeCase Case(int i, ComponentTuple t, FailureClass? c, string prompt) => new()
        {
            Index = i, Components = t, Seed = i, CreatedUtc = DateTime.UnixEpoch, Class = c,
            Case = c is null ? null : new MentorCase(t, prompt, "m", "s"),
        };
        var report = TaxonomyReport.Build([
            Case(0, a, FailureClass.Systemic, "p1"), Case(1, a, FailureClass.Systemic, "p2"), Case(2, a, FailureClass.Systemic, "p1"),
            Case(3, b, FailureClass.PolicyOnly, "p3"), Case(4, b, null, "p4"), Case(5, b, FailureClass.Robust, "p1"),
        ]);
        Assert.Equal(1, report.DistinctSystemicTuples);     // three systemic cases, one tuple
        Assert.Equal(2, report.DistinctSystemicPrompts);    // p1 twice, p2
        Assert.Equal(3, report.Overall[FailureClass.Systemic].Successes);
    }
}
