using Ares.Core.Tokenization;

namespace Ares.RedTeam.Chat;

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
