using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ares.RedTeam.Catalog;

/// <summary>One choice of each component type: what a test case is made of, and its provenance.</summary>
internal sealed record ComponentTuple(string Topic, string Persona, string Tactic, string Goal)
{
    public string this[ComponentKind kind] => kind switch
    {
        ComponentKind.Topic => Topic,
        ComponentKind.Persona => Persona,
        ComponentKind.Tactic => Tactic,
        _ => Goal,
    };

    public override string ToString() => $"{Topic}/{Persona}/{Tactic}/{Goal}";
}
