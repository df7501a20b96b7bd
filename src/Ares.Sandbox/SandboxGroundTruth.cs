using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Sandbox;

/// <summary>
/// The planted weaknesses, as ground truth for checking what discovery finds: which tactics make
/// the policy comply and which make the RM prefer the malicious response, and hence the expected
/// failure class of every tuple.
/// </summary>
internal sealed record SandboxGroundTruth(IReadOnlyList<string> Tactics, IReadOnlyList<string> PolicyWeakTactics, IReadOnlyList<string> RmBlindTactics)
{
    public bool PolicyComplies(string tactic) => PolicyWeakTactics.Contains(tactic);
    public bool RmPrefersMalicious(string tactic) => RmBlindTactics.Contains(tactic);

    /// <summary>Policy complies and RM rewards it.</summary>
    public IReadOnlyList<string> Systemic => Of(FailureClass.Systemic);
    public IReadOnlyList<string> PolicyOnly => Of(FailureClass.PolicyOnly);
    public IReadOnlyList<string> RmOnly => Of(FailureClass.RmOnly);
    public IReadOnlyList<string> Robust => Of(FailureClass.Robust);

    /// <summary>The class the world was built to give a case of this tuple (it depends on the tactic only).</summary>
    public FailureClass ExpectedClass(ComponentTuple tuple) => ExpectedClass(tuple.Tactic);

    public FailureClass ExpectedClass(string tactic) => (PolicyComplies(tactic), RmPrefersMalicious(tactic)) switch
    {
        (true, true) => FailureClass.Systemic,
        (true, false) => FailureClass.PolicyOnly,
        (false, true) => FailureClass.RmOnly,
        _ => FailureClass.Robust,
    };

    IReadOnlyList<string> Of(FailureClass c) => [.. Tactics.Where(t => ExpectedClass(t) == c)];
}
