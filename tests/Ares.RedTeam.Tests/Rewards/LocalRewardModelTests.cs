using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Rewards;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.RedTeam.Tests.Rewards;

public sealed class LocalRewardModelTests : IDisposable
{
    readonly TempDirectory _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [Theory]
    [InlineData("mistral")] // plain layout, BOS added by the tokenizer
    [InlineData("qwen3")]   // ChatML layout
    public void Scores_equal_the_score_head_on_the_exchange_ids(string tokenizer)
    {
        var dir = TinyHfDirectory.Write(_tmp.File("rm"), tokenizer, labels: 1);
        var model = ModelLoader.Load(dir);
        using var rm = new LocalRewardModel(model, maxBatchSize: 2);
        Exchange[] exchanges = [new("Hi", "Hello!"), new("Tell me about [redacted].", "I can't help with that."), new("Why is the sky blue?", "Rayleigh scattering.")];
        var scores = rm.Score(exchanges); // batches of 2 and 1
        Assert.Equal(3, scores.Count);
        using var _ = no_grad();
        for (int i = 0; i < exchanges.Length; i++)
        {
            using var expected = SequenceScorer.Scores(model.Model, [model.EncodeExchange(exchanges[i].Prompt, exchanges[i].Response)]); // (1, 1)
            Assert.Equal(expected.item<float>(), scores[i], 1e-5);
        }
        Assert.NotEqual(scores[0], scores[1]);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        rm.Score(exchanges);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount); // no tensor outlives a call
        Assert.Equal(ModelIdentity.ForLocal(dir), rm.Identity);
    }

    [Fact]
    public void A_model_with_two_labels_is_refused_naming_the_path_and_num_labels()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("two"), "mistral", labels: 2);
        using var model = ModelLoader.Load(dir);
        var e = Assert.Throws<ArgumentException>(() => new LocalRewardModel(model));
        Assert.Contains(dir, e.Message);
        Assert.Contains("num_labels = 2", e.Message);
    }

    [Fact]
    public void A_causal_LM_has_no_score_head()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("lm"), "mistral");
        var e = Assert.Throws<ArgumentException>(() => LocalRewardModel.Load(dir));
        Assert.Contains("no score head", e.Message);
    }

    [Fact]
    public void An_exchange_longer_than_the_model_reads_is_an_error_naming_its_length()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("rm"), "mistral", labels: 1, maxPositions: 32);
        using var rm = LocalRewardModel.Load(dir);
        var e = Assert.Throws<ArgumentException>(() => rm.Score([new("Hi", "Hello"), new("Hi", string.Join(" ", Enumerable.Repeat("[redacted]", 20)))]));
        Assert.Matches(@"exchange 1 is \d+ tokens, more than the model's 32 positions", e.Message);
    }
}
