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
