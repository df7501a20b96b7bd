namespace Ares.RedTeam.Judges;

/// <summary>
/// Decides whether responses are harmful.
/// Responsible for: a harm probability and a rationale per exchange.
/// Does not own: generating responses, persistence, the taxonomy.
/// </summary>
internal interface IJudge : IDisposable
{
    ModelIdentity Identity { get; }

    /// <summary>One verdict per exchange, in order. Never throws for one bad item: returns Unscoreable.</summary>
    Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<Exchange> exchanges, CancellationToken ct = default);
}
