using Ares.Core.Tokenization;

namespace Ares.RedTeam.Chat;

/// <summary>
/// A chat model: a policy under test (a "target"), or the model behind an LLM mentor or judge.
/// Responsible for: turning conversations into completions (local generation or an HTTP endpoint).
/// Does not own: persistence (targets never write anything), judging, scoring.
/// </summary>
internal interface IChatModel : IDisposable
{
    ModelIdentity Identity { get; }

    /// <summary>
    /// <paramref name="samples"/> completions for each conversation: result[i][j] is sample j of
    /// conversation i. Never throws for a failed request; returns <see cref="ChatResult.Failure"/>.
    /// Throws only on cancellation or on misconfiguration detected before any request.
    /// </summary>
    Task<IReadOnlyList<IReadOnlyList<ChatResult>>> CompleteAsync(
        IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, ChatSampling sampling, int samples, CancellationToken ct = default);
}
