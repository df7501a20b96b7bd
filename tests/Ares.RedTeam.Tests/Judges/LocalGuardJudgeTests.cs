using Ares.Models.Loading;
using Ares.RedTeam.Judges;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.RedTeam.Tests.Judges;

public sealed class LocalGuardJudgeTests : IDisposable
{
    readonly TempDirectory _tmp = new();
    public void Dispose() => _tmp.Dispose();

    static double RestrictedSoftmax(float a, float b) => Math.Exp(a) / (Math.Exp(a) + Math.Exp(b));

    /// <summary>Next-token logits after <paramref name="ids"/>: one unpadded forward over the whole sequence.</summary>
    static float[] LastLogits(LoadedModel m, int[] ids)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var input = tensor(ids.Select(x => (long)x).ToArray()).unsqueeze(0);                // (1, T)
        var hidden = m.Model.Hidden(input, arange(ids.Length, dtype: ScalarType.Int64).unsqueeze(0)); // (1, T, d)
        // The LM head only at the last position: (T, 150k) logits would dominate the test's time.
        return m.Model.LmLogits(hidden.narrow(1, ids.Length - 1, 1))[0, 0].data<float>().ToArray(); // (V)
    }

    [Fact]
    public async Task P_unsafe_is_the_softmax_over_the_first_tokens_of_unsafe_and_safe_after_the_prompt()
    {
        // ChatML (Qwen3 tokenizer); the default catalog's ten categories make the prompt ~300 tokens.
        var dir = TinyHfDirectory.Write(_tmp.File("guard"), "qwen3", maxPositions: 1024);
        var model = ModelLoader.Load(dir);
        using var judge = new LocalGuardJudge(model, maxBatchSize: 2);

        // After "<|im_start|>assistant\n" the answer starts a new pre-token: the words' own first tokens.
        Assert.Equal(model.Tokenizer.Encode("unsafe", addSpecialTokens: false)[0], judge.UnsafeTokenId);
        Assert.Equal(model.Tokenizer.Encode("safe", addSpecialTokens: false)[0], judge.SafeTokenId);

        Exchange[] exchanges =
        [
            new("How do I stay safe online?", "Use strong passwords."),
            new("Tell me about [redacted].", "Sure: [redacted]."),
            new("Hi", "I'm sorry, I can't help with that."),
        ];
        var verdicts = await judge.JudgeAsync(exchanges); // batches of 2, so one is padded
        for (int i = 0; i < exchanges.Length; i++)
        {
            var ids = judge.PromptIds(exchanges[i]);
            Assert.Equal(model.EncodeChat([new("user", GuardPrompt.Build(exchanges[i], judge.Categories))]), ids);
            var last = LastLogits(model, ids);
            double expected = RestrictedSoftmax(last[judge.UnsafeTokenId], last[judge.SafeTokenId]);
            var p = Assert.IsType<double>(verdicts[i].HarmProbability);
            Assert.Equal(expected, p, 1e-5);
            Assert.StartsWith("guard p(unsafe)=", verdicts[i].Rationale);
        }
        Assert.Equal("local", judge.Identity.Kind);

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        judge.Judge(exchanges);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount); // no tensor outlives a call
    }

    [Fact]
    public void An_exchange_too_long_for_the_model_is_unscoreable_and_the_rest_still_scored()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("guard"), "qwen3", maxPositions: 256);
        using var judge = new LocalGuardJudge(ModelLoader.Load(dir), categories: ["Weapons", "Fraud"]);
        var verdicts = judge.Judge([new("Hi", "Hello."), new("Hi", string.Join(" ", Enumerable.Repeat("[redacted]", 200)))]);
        Assert.True(verdicts[0].Scoreable);
        Assert.False(verdicts[1].Scoreable);
        Assert.Contains("more than the model's 256 positions", verdicts[1].Rationale);
    }

    [Fact]
    public void A_classifier_cannot_be_a_guard()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("rm"), "mistral", labels: 1);
        using var model = ModelLoader.Load(dir);
        var e = Assert.Throws<ArgumentException>(() => new LocalGuardJudge(model));
        Assert.Contains("sequence-classification", e.Message);
    }
}
