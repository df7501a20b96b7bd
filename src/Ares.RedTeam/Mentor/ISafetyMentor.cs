using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Mentor;

/// <summary>
/// What the mentor produced for one tuple: a case, or a failure with the reason (after
/// <see cref="Attempts"/> tries). Failures are counted, never dropped silently.
/// </summary>
internal sealed record MentorOutcome(MentorCase? Case, string? Failure, int Attempts)
{
    public static MentorOutcome Composed(MentorCase c, int attempts = 1) => new(c, null, attempts);
    public static MentorOutcome Failed(string why, int attempts) => new(null, why, attempts);
}

/// <summary>
/// The Safety Mentor: composes a coherent adversarial prompt plus a malicious and a safe response
/// from a component tuple. Responsible for: writing the case. Does not own: choosing the tuple
/// (the selector does), running the policy, persistence.
/// </summary>
internal interface ISafetyMentor : IDisposable
{
    ModelIdentity Identity { get; }

    /// <summary>Composes one case. <paramref name="seed"/> makes template output repeatable.</summary>
    Task<MentorOutcome> ComposeAsync(ComponentTuple components, long seed, CancellationToken ct = default);
}
