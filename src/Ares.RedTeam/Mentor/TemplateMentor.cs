using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Mentor;

/// <summary>
/// The offline Safety Mentor: composes a case from the catalog's surface forms. Deterministic
/// given (tuple, seed); different seeds pick different persona phrases, tactic templates, goal
/// phrases, subjects, alternatives and response shapes, so prompts for one tuple vary.
/// </summary>
internal sealed class TemplateMentor(ComponentCatalog catalog) : ISafetyMentor
{
    public const string Version = "1";

    public ComponentCatalog Catalog { get; } = catalog;

    public ModelIdentity Identity { get; } = ModelIdentity.BuiltIn("template-mentor", $"{Version} catalog={catalog.Version}");

    public Task<MentorOutcome> ComposeAsync(ComponentTuple components, long seed, CancellationToken ct = default) =>
        Task.FromResult(MentorOutcome.Composed(Compose(components, seed)));

    /// <summary>Composes one case; throws <see cref="CatalogException"/> for an incompatible tuple.</summary>
    public MentorCase Compose(ComponentTuple t, long seed)
    {
        if (!Catalog.IsCompatible(t)) throw new CatalogException($"{Catalog.Source}: tuple {t} is not compatible under the catalog's constraints");
        var rng = new Random(unchecked((int)(seed ^ (seed >> 32)) ^ StableHash(t.ToString())));
        T Pick<T>(IReadOnlyList<T> xs) => xs[rng.Next(xs.Count)];
        var topic = Catalog.Get(ComponentKind.Topic, t.Topic);
        var persona = Catalog.Get(ComponentKind.Persona, t.Persona);
        var tactic = Catalog.Get(ComponentKind.Tactic, t.Tactic);
        var goal = Catalog.Get(ComponentKind.Goal, t.Goal);

        var subject = Pick(topic.Texts);
        var request = Pick(goal.Texts).Replace("{subject}", subject);
        var prompt = Pick(tactic.Texts).Replace("{persona}", Pick(persona.Texts)).Replace("{request}", request);
        var malicious = Pick(goal.MaliciousTemplates).Replace("{subject}", subject);
        var safe = Pick(Catalog.SafeTemplates).Replace("{subject}", subject).Replace("{alternative}", Pick(topic.SafeAlternatives));
        return new MentorCase(t, Tidy(Capitalise(prompt)), malicious, safe);
    }

    public void Dispose() { }

    static string Capitalise(string s) => s.Length > 0 && char.IsLower(s[0]) ? char.ToUpperInvariant(s[0]) + s[1..] : s;

    /// <summary>Collapses doubled spaces and "?." / ".." left where a template ends in punctuation.</summary>
    static string Tidy(string s)
    {
        while (s.Contains("  ")) s = s.Replace("  ", " ");
        return s.Replace("?.", "?").Replace("..", ".").Replace(" .", ".").Trim();
    }

    /// <summary>FNV-1a: string.GetHashCode is randomised per process, and case text must not be.</summary>
    internal static int StableHash(string s)
    {
        var h = 2166136261u;
        foreach (var c in s) { h ^= c; h *= 16777619u; }
        return unchecked((int)h);
    }
}
