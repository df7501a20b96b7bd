
namespace Ares.RedTeam.Rewards;

/// <summary>
/// A reward model: a scalar preference score for a response to a prompt (higher = preferred).
/// Responsible for: scoring. Does not own: deciding what a score means (the taxonomy does).
/// </summary>
internal interface IRewardModel : IDisposable
{
    ModelIdentity Identity { get; }

    /// <summary>One score per exchange, in order.</summary>
    IReadOnlyList<double> Score(IReadOnlyList<Exchange> exchanges);
}
