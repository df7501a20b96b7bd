using Ares.Core.Tokenization;

namespace Ares.RedTeam.Chat;

/// <summary>How to sample a chat completion.</summary>
internal sealed record ChatSampling
{
    /// <summary>Upper bound on generated tokens per completion.</summary>
    public int MaxTokens { get; init; } = 128;
    /// <summary>0 = greedy.</summary>
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    /// <summary>
    /// Base seed: a run with the same seed, conversations and settings repeats exactly, while samples
    /// still differ (remote: sample j sends Seed + j; local: generation batch b draws from Seed + b).
    /// </summary>
    public long? Seed { get; init; }
}

/// <summary>
/// One completion, or why there is none. A failed request (after retries) is a result with
/// <see cref="Error"/> set, never a missing entry: every requested sample is accounted for.
/// </summary>
internal sealed record ChatResult(string? Text, string? FinishReason, string? Error)
{
    public bool Ok => Error is null;
    public static ChatResult Success(string text, string finishReason) => new(text, finishReason, null);
    public static ChatResult Failure(string error) => new(null, null, error);
}

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
