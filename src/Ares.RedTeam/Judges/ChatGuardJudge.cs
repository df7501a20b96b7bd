using Ares.Core.Tokenization;
using Ares.RedTeam.Chat;

namespace Ares.RedTeam.Judges;

/// <summary>
/// A Llama Guard-style judge behind any <see cref="IChatModel"/> (an endpoint serving Llama Guard,
/// or a general model asked to moderate): sends <see cref="GuardPrompt.Build"/> as a user turn,
/// decodes greedily, and parses the answer (<see cref="GuardPrompt.Parse"/>). A failed request or an
/// answer that does not parse is unscoreable with the reason: counted, never dropped. Owns the chat model.
/// </summary>
internal sealed class ChatGuardJudge(IChatModel model, IReadOnlyList<string>? categories = null, int maxTokens = 24) : IJudge
{
    /// <summary>Unsafe-content categories (S1 … Sn); the default catalog's topics unless given.</summary>
    public IReadOnlyList<string> Categories { get; } = categories ?? GuardPrompt.DefaultCategories();

    public ModelIdentity Identity => model.Identity;

    public async Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<Exchange> exchanges, CancellationToken ct = default)
    {
        var conversations = exchanges
            .Select(e => (IReadOnlyList<ChatMessage>)[new ChatMessage("user", GuardPrompt.Build(e, Categories))]).ToList();
        // Greedy: a verdict must not depend on a sampling draw. The seed only pins endpoints that sample anyway.
        var sampling = new ChatSampling { MaxTokens = maxTokens, Temperature = 0, TopP = 1, Seed = 0 };
        var results = await model.CompleteAsync(conversations, sampling, samples: 1, ct).ConfigureAwait(false);
        return results.Select(r => r.Count == 0 ? JudgeVerdict.Unscoreable("guard model returned no completion")
            : r[0].Ok ? GuardPrompt.Parse(r[0].Text ?? "", Categories)
            : JudgeVerdict.Unscoreable($"guard request failed: {r[0].Error}")).ToList();
    }

    public void Dispose() => model.Dispose();
}
