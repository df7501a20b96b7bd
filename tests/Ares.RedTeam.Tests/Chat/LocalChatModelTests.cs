using Ares.Core.Tokenization;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.RedTeam.Chat;

namespace Ares.RedTeam.Tests.Chat;

public sealed class LocalChatModelTests : IClassFixture<LocalChatModelTests.ChatDir>
{
    /// <summary>One tiny ChatML model directory shared by the tests of this class.</summary>
    public sealed class ChatDir : IDisposable
    {
        readonly TempDirectory _tmp = new();
        public string Path { get; }
        public ChatDir() => Path = TinyHfDirectory.Write(_tmp.File("chat"), "qwen3", maxPositions: 64);
        public void Dispose() => _tmp.Dispose();
    }

    readonly string _dir;
    public LocalChatModelTests(ChatDir dir) => _dir = dir.Path;

    static readonly IReadOnlyList<ChatMessage>[] Conversations =
    [
        [new("user", "Hello there")],
        [new("system", "Be brief."), new("user", "What is 2 + 2?")],
        [new("user", "Tell me a story.")],
    ];

    static string[][] Texts(IReadOnlyList<IReadOnlyList<ChatResult>> r) => r.Select(s => s.Select(x => x.Text!).ToArray()).ToArray();

    [Fact]
    public async Task Results_are_conversations_by_samples_and_repeat_for_the_same_seed()
    {
        using var chat = LocalChatModel.Load(_dir, maxBatchSize: 4); // 6 rows: batches of 4 and 2
        var sampling = new ChatSampling { MaxTokens = 6, Temperature = 1, Seed = 11 };
        var a = await chat.CompleteAsync(Conversations, sampling, samples: 2);
        Assert.Equal(3, a.Count);
        Assert.All(a, s => Assert.Equal(2, s.Count));
        Assert.All(a.SelectMany(s => s), r => { Assert.True(r.Ok); Assert.Contains(r.FinishReason, (string[])["stop", "length"]); });

        var again = await chat.CompleteAsync(Conversations, sampling, samples: 2);
        Assert.Equal(Texts(a), Texts(again));
        // A random 150k-token model sampled at T = 1: two samples of one prompt agreeing on 6 tokens would be a seeding bug.
        Assert.Contains(a, s => s[0].Text != s[1].Text);
        var other = await chat.CompleteAsync(Conversations, sampling with { Seed = 12 }, samples: 2);
        Assert.NotEqual(Texts(a), Texts(other));
        Assert.Equal("local", chat.Identity.Kind);
    }

    [Fact]
    public async Task Greedy_completion_is_the_generator_run_on_the_chat_encoding()
    {
        var model = ModelLoader.Load(_dir);
        using var chat = new LocalChatModel(model);
        var r = await chat.CompleteAsync([Conversations[1]], new ChatSampling { MaxTokens = 5, Temperature = 0 }, samples: 1);
        var expected = new TextGenerator(model.Model, model.Tokenizer)
            .Generate([model.EncodeChat(Conversations[1])], new GenerationOptions { MaxNewTokens = 5, Temperature = 0 })[0];
        Assert.Equal(expected.Text, r[0][0].Text);
        Assert.Equal(expected.FinishReason, r[0][0].FinishReason);
    }

    [Fact]
    public async Task A_conversation_too_long_for_the_context_fails_alone_and_is_accounted_for()
    {
        using var chat = LocalChatModel.Load(_dir);
        IReadOnlyList<ChatMessage> tooLong = [new("user", string.Join(" ", Enumerable.Repeat("word", 80)))];
        var r = await chat.CompleteAsync([Conversations[0], tooLong], new ChatSampling { MaxTokens = 4, Seed = 1 }, samples: 3);
        Assert.All(r[0], x => Assert.True(x.Ok));
        Assert.Equal(3, r[1].Count);
        Assert.All(r[1], x => Assert.Contains("exceeds the model's context of 64", x.Error));
    }

    [Fact]
    public async Task Bad_sampling_settings_throw_before_generating()
    {
        using var chat = LocalChatModel.Load(_dir);
        await Assert.ThrowsAsync<ArgumentException>(() => chat.CompleteAsync(Conversations, new ChatSampling { TopP = 0 }, samples: 1));
    }
}
