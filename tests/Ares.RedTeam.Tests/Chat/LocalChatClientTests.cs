using Ares.RedTeam.Chat;
using Microsoft.Extensions.AI;
using AresMessage = Ares.Core.Tokenization.ChatMessage;

namespace Ares.RedTeam.Tests.Chat;

/// <summary>A local model behind Microsoft.Extensions.AI's IChatClient, wrapped by middleware, driven through Ares's accounting.</summary>
public sealed class LocalChatClientTests(LocalChatModelTests.ChatDir dir) : IClassFixture<LocalChatModelTests.ChatDir>
{
    /// <summary>M.E.AI middleware as a user would add it (logging, caching…): here it counts calls.</summary>
    sealed class CountingClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        int _calls;
        public int Calls => _calls;
        public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken ct = default)
        {
            Interlocked.Increment(ref _calls);
            return base.GetResponseAsync(messages, options, ct);
        }
    }

    static readonly IReadOnlyList<AresMessage> Hello = [new("system", "Be brief."), new("user", "What is 2 + 2?")];

    [Fact]
    public async Task The_chat_client_answers_as_the_local_model_does_and_middleware_wraps_it()
    {
        using var local = LocalChatModel.Load(dir.Path);
        var expected = local.Complete([Hello], new ChatSampling { MaxTokens = 5, Temperature = 0 }, 1)[0][0];

        var client = new LocalChatClient(local, ownsModel: false);
        var response = await client.GetResponseAsync(Hello.Select(ChatClientModel.ToAi), new ChatOptions { MaxOutputTokens = 5, Temperature = 0 });
        Assert.Equal(expected.Text, response.Text);
        Assert.Equal(expected.FinishReason, response.FinishReason?.Value);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.Same(local, client.GetService<LocalChatModel>());
        Assert.Equal("ares-local", client.GetService<ChatClientMetadata>()!.ProviderName);

        var streamed = await client.GetStreamingResponseAsync(Hello.Select(ChatClientModel.ToAi), new ChatOptions { MaxOutputTokens = 5, Temperature = 0 }).ToChatResponseAsync();
        Assert.Equal(expected.Text, streamed.Text);

        // Through middleware and Ares's accounting: 2 conversations × 3 samples, the too-long one fails each sample alone.
        var counting = new CountingClient(client);
        using var model = new ChatClientModel(counting, local.Identity, ownsClient: false);
        IReadOnlyList<AresMessage> tooLong = [new("user", string.Join(" ", Enumerable.Repeat("word", 80)))];
        var results = await model.CompleteAsync([Hello, tooLong], new ChatSampling { MaxTokens = 4, Seed = 3 }, samples: 3);
        Assert.Equal(6, counting.Calls);
        Assert.All(results[0], r => Assert.True(r.Ok));
        Assert.All(results[1], r => Assert.Contains("exceeds the model's context of 64", r.Error));
        Assert.Equal((3, 3), (model.Successes, model.Failures));
        // Seeds Seed + j: a seeded run repeats.
        var again = await model.CompleteAsync([Hello], new ChatSampling { MaxTokens = 4, Seed = 3 }, samples: 3);
        Assert.Equal(results[0].Select(r => r.Text), again[0].Select(r => r.Text));
    }

    [Fact]
    public async Task The_callers_cancellation_throws_rather_than_becoming_a_failure()
    {
        using var local = LocalChatModel.Load(dir.Path);
        using var model = new ChatClientModel(new LocalChatClient(local, ownsModel: false), local.Identity);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => model.CompleteAsync([Hello], new ChatSampling { MaxTokens = 4 }, 2, cancelled.Token));
    }
}
