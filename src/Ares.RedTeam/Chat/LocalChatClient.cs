using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;

namespace Ares.RedTeam.Chat;

/// <summary>
/// A local model as a Microsoft.Extensions.AI <see cref="IChatClient"/>, so M.E.AI middleware
/// (logging, caching, telemetry) wraps it like any provider. One response per call: temperature,
/// top_p, max output tokens and seed come from <see cref="ChatOptions"/> (defaults: those of
/// <see cref="ChatSampling"/>); a conversation that does not fit the context throws
/// <see cref="InvalidOperationException"/> naming its length.
/// Streaming yields the whole completion as one update: local generation runs as one batched call.
/// </summary>
internal sealed class LocalChatClient(LocalChatModel model, bool ownsModel = true) : IChatClient
{
    readonly ChatClientMetadata _metadata = new("ares-local", null, model.Identity.Location);

    public LocalChatModel Model => model;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var conversation = messages.Select(ChatClientModel.FromAi).ToList();
        var defaults = new ChatSampling();
        var sampling = new ChatSampling
        {
            MaxTokens = options?.MaxOutputTokens ?? defaults.MaxTokens,
            Temperature = options?.Temperature ?? defaults.Temperature,
            TopP = options?.TopP ?? defaults.TopP,
            Seed = options?.Seed,
        };
        // Generation is CPU-bound and synchronous: run it off the caller's thread.
        var result = await Task.Run(() => model.Complete([conversation], sampling, 1, cancellationToken)[0][0], cancellationToken).ConfigureAwait(false);
        if (!result.Ok) throw new InvalidOperationException($"{model.Identity}: {result.Error}");
        return new ChatResponse(new AiMessage(ChatRole.Assistant, result.Text))
        {
            FinishReason = new ChatFinishReason(result.FinishReason!),
            ModelId = model.Identity.Location,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = await GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        foreach (var update in response.ToChatResponseUpdates()) yield return update;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(model) ? model
        : null;

    public void Dispose()
    {
        if (ownsModel) model.Dispose();
    }
}
