using Microsoft.Extensions.AI;
using AresMessage = Ares.Core.Tokenization.ChatMessage;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;

namespace Ares.RedTeam.Chat;

/// <summary>
/// An Ares <see cref="IChatModel"/> over any Microsoft.Extensions.AI <see cref="IChatClient"/>: the
/// OpenAI-compatible endpoint (<see cref="OpenAiChatModel"/>), a local model
/// (<see cref="LocalChatClient"/>), or any provider or middleware stack a user builds
/// (Azure OpenAI, Ollama, ONNX GenAI, logging, caching).
/// Responsible for: Ares's accounting rule on top of a client that may throw. Each (conversation,
/// sample) pair is one <see cref="IChatClient.GetResponseAsync"/> call with <c>Seed + j</c>, and ends
/// in exactly one <see cref="ChatResult"/>: the text, or a failure naming the model and the error.
/// Only the caller's cancellation throws. Does not own: retries (the client's pipeline does them).
/// </summary>
internal sealed class ChatClientModel : IChatModel
{
    readonly IChatClient _client;
    readonly bool _ownsClient;
    readonly Func<Exception, string> _describe;
    long _failures, _successes;

    /// <param name="client">The client; disposed with this model when <paramref name="ownsClient"/>.</param>
    /// <param name="identity">Recorded with every run that uses this model.</param>
    /// <param name="describe">Turns a client's exception into a failure reason; must never include a secret. Null = the exception's type and message.</param>
    public ChatClientModel(IChatClient client, ModelIdentity identity, bool ownsClient = true, Func<Exception, string>? describe = null)
    {
        _client = client;
        _ownsClient = ownsClient;
        _describe = describe ?? (e => $"{e.GetType().Name}: {e.Message}");
        Identity = identity;
    }

    public ModelIdentity Identity { get; }

    /// <summary>The client underneath, for M.E.AI middleware or for code that wants the standard interface.</summary>
    public IChatClient Client => _client;

    public long Failures => Interlocked.Read(ref _failures);
    public long Successes => Interlocked.Read(ref _successes);

    public async Task<IReadOnlyList<IReadOnlyList<ChatResult>>> CompleteAsync(
        IReadOnlyList<IReadOnlyList<AresMessage>> conversations, ChatSampling sampling, int samples, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        if (sampling.MaxTokens < 1) throw new ArgumentException($"ChatSampling.MaxTokens: must be at least 1 (got {sampling.MaxTokens})");
        var tasks = new Task<ChatResult>[conversations.Count][];
        for (var i = 0; i < conversations.Count; i++)
        {
            var messages = conversations[i].Select(ToAi).ToList();
            tasks[i] = new Task<ChatResult>[samples];
            for (var j = 0; j < samples; j++)
                tasks[i][j] = CompleteOneAsync(messages, Options(sampling, j), ct);
        }
        await Task.WhenAll(tasks.SelectMany(t => t)).ConfigureAwait(false);
        return tasks.Select(row => (IReadOnlyList<ChatResult>)row.Select(t => t.Result).ToArray()).ToArray();
    }

    /// <summary>Ares sampling as M.E.AI options; sample j of a seeded run sends Seed + j.</summary>
    public static ChatOptions Options(ChatSampling sampling, int sample) => new()
    {
        MaxOutputTokens = sampling.MaxTokens,
        Temperature = (float)sampling.Temperature,
        TopP = (float)sampling.TopP,
        Seed = sampling.Seed is long s ? s + sample : null,
    };

    public static AiMessage ToAi(AresMessage m) => new(new ChatRole(m.Role), m.Content);

    public static AresMessage FromAi(AiMessage m) => new(m.Role.Value, m.Text);

    async Task<ChatResult> CompleteOneAsync(List<AiMessage> messages, ChatOptions options, CancellationToken ct)
    {
        try
        {
            var response = await _client.GetResponseAsync(messages, options, ct).ConfigureAwait(false);
            Interlocked.Increment(ref _successes);
            return ChatResult.Success(response.Text, response.FinishReason?.Value ?? "unknown");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
        catch (Exception e)
        {
            Interlocked.Increment(ref _failures);
            return ChatResult.Failure($"{Identity}: {_describe(e)}");
        }
    }

    public override string ToString() => $"ChatClientModel({Identity})";

    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }
}
