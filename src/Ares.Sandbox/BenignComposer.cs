using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;

namespace Ares.RedTeam.Sandbox;

/// <summary>Turns a benign item into a prompt: its plain question, or its instruction inside a catalog tactic template with a persona.</summary>
internal sealed class BenignComposer(ComponentCatalog catalog, double wrappedShare)
{
    public BenignExchange Compose(BenignItem item, Random rng) =>
        rng.NextDouble() < wrappedShare ? Wrapped(item, rng) : Plain(item, rng);

    public BenignExchange Plain(BenignItem item, Random rng)
    {
        // Personas are shared with harmful prompts so that who asks never signals harm on its own.
        string prompt = rng.Next(3) == 0 ? $"{Pick(Pick(catalog.Personas, rng).Texts, rng)} {item.Question}" : item.Question;
        return new BenignExchange(item.Topic, prompt, item.Answer, OverRefusal(item, rng), null);
    }

    public BenignExchange Wrapped(BenignItem item, Random rng)
    {
        var tactic = Pick(catalog.Tactics, rng);
        string prompt = Pick(tactic.Texts, rng).Replace("{persona}", Pick(Pick(catalog.Personas, rng).Texts, rng)).Replace("{request}", item.Instruction);
        return new BenignExchange(item.Topic, Tidy(prompt), item.Answer, OverRefusal(item, rng), tactic.Id);
    }

    /// <summary>A refusal in the catalog's own words: what an over-cautious model would say.</summary>
    string OverRefusal(BenignItem item, Random rng) =>
        Pick(catalog.SafeTemplates, rng).Replace("{subject}", item.Subject).Replace("{alternative}", "a different question");

    static T Pick<T>(IReadOnlyList<T> xs, Random rng) => xs[rng.Next(xs.Count)];

    /// <summary>As the template mentor tidies: capital first letter, single spaces, no "?." left by templates.</summary>
    static string Tidy(string s)
    {
        while (s.Contains("  ")) s = s.Replace("  ", " ");
        s = s.Replace("?.", "?").Replace("..", ".").Replace(" .", ".").Trim();
        return s.Length > 0 && char.IsLower(s[0]) ? char.ToUpperInvariant(s[0]) + s[1..] : s;
    }
}
