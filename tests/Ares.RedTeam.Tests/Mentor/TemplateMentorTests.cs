using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;

namespace Ares.RedTeam.Tests.Mentor;

public class TemplateMentorTests
{
    static readonly TemplateMentor Mentor = new(ComponentCatalog.Default());
    static readonly ComponentTuple Tuple = new("cyber_intrusion", "security_researcher", "roleplay", "instructions");

    [Fact]
    public void The_same_tuple_and_seed_give_the_same_case()
    {
        Assert.Equal(Mentor.Compose(Tuple, 7), Mentor.Compose(Tuple, 7));
    }

    [Fact]
    public void Different_seeds_give_varied_prompts_for_one_tuple()
    {
        var prompts = Enumerable.Range(0, 30).Select(s => Mentor.Compose(Tuple, s).Prompt).Distinct().Count();
        Assert.True(prompts >= 10, $"only {prompts} distinct prompts in 30 seeds");
    }

    [Fact]
    public void A_case_carries_its_tuple_and_coherent_references()
    {
        var c = Mentor.Compose(Tuple, 3);
        Assert.Equal(Tuple, c.Components);
        var subject = ComponentCatalog.Default().Get(ComponentKind.Topic, "cyber_intrusion").Texts.Single(s => c.Prompt.Contains(s));
        Assert.Contains(subject, c.MaliciousResponse);
        Assert.Contains(subject, c.SafeResponse);
        Assert.Contains("[redacted]", c.MaliciousResponse);
        Assert.DoesNotContain("{", c.Prompt + c.MaliciousResponse + c.SafeResponse);
    }

    [Fact]
    public void Every_compatible_tuple_composes_without_leftover_placeholders()
    {
        var catalog = ComponentCatalog.Default();
        foreach (var t in catalog.CompatibleTuples().Where((_, i) => i % 7 == 0))
        {
            var c = Mentor.Compose(t, t.GetHashCode());
            Assert.DoesNotContain("{", c.Prompt + c.MaliciousResponse + c.SafeResponse);
            Assert.DoesNotContain("  ", c.Prompt);
        }
    }

    [Fact]
    public void An_incompatible_tuple_is_refused()
    {
        Assert.Throws<CatalogException>(() => Mentor.Compose(new ComponentTuple("weapons", "student", "direct", "write_code"), 1));
    }
}
