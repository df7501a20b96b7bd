using Ares.Models.Generation;
using Ares.Models.Training;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class ReplayBufferTests
{
    static ReplayEntry E(string text, double logR, float[]? emb = null) =>
        new(text, text.Select(c => (int)c).ToArray(), logR, emb);

    [Fact]
    public void Exact_duplicates_are_rejected()
    {
        var buffer = new ReplayBuffer(10);
        Assert.True(buffer.Add(E("abcdefghij", 1)));
        Assert.False(buffer.Add(E("abcdefghij", 5)));
        Assert.Equal(1, buffer.Count);
        Assert.Equal(1, buffer.Entries[0].LogReward);
    }

    [Fact]
    public void A_near_duplicate_by_embedding_keeps_only_the_better_one()
    {
        var buffer = new ReplayBuffer(10, similarityThreshold: 0.4, editDistanceThreshold: 0);
        Assert.True(buffer.Add(E("first", 1, [1, 0, 0])));
        Assert.True(buffer.Add(E("other", 1, [0, 1, 0])));                    // cosine 0: distinct
        Assert.False(buffer.Add(E("worse", 0.5f, [1, 0.5f, 0])));             // cosine 0.89 to "first", lower reward
        Assert.True(buffer.Add(E("better", 2, [1, 0.2f, 0])));                // beats "first" (cosine 0.98) and replaces it
        Assert.Equal(["other", "better"], buffer.Entries.Select(e => e.Text));
    }

    [Fact]
    public void A_near_duplicate_by_edit_distance_keeps_only_the_better_one()
    {
        var buffer = new ReplayBuffer(10, editDistanceThreshold: 0.2);
        Assert.True(buffer.Add(E("the quick brown fox", 1)));
        Assert.True(buffer.Add(E("the quick brown fax", 3)));                // 1 edit in 19: near duplicate, better
        Assert.True(buffer.Add(E("a slow green turtle", 0)));
        Assert.Equal(["the quick brown fax", "a slow green turtle"], buffer.Entries.Select(e => e.Text));
        Assert.Equal(1 / 19.0, ReplayBuffer.NormalisedEditDistance([.. "the quick brown fox".Select(c => (int)c)], [.. "the quick brown fax".Select(c => (int)c)]), 9);
    }

    [Fact]
    public void A_full_buffer_evicts_the_lowest_reward_and_refuses_lower_ones()
    {
        var buffer = new ReplayBuffer(3, editDistanceThreshold: 0);
        foreach (var (t, r) in new[] { ("aaaa", 1.0), ("bbbb", 3.0), ("cccc", 2.0) }) Assert.True(buffer.Add(E(t, r)));
        Assert.False(buffer.Add(E("dddd", 0.5)));
        Assert.True(buffer.Add(E("eeee", 4)));
        Assert.Equal(["bbbb", "cccc", "eeee"], buffer.Entries.Select(e => e.Text).Order());
    }

    [Fact]
    public void Sampling_prefers_high_reward_by_softmax_and_is_seeded()
    {
        var buffer = new ReplayBuffer(10, editDistanceThreshold: 0);
        buffer.Add(E("low", 0));
        buffer.Add(E("high", Math.Log(9)));   // softmax: 0.9 vs 0.1
        var draws = buffer.Sample(4000, new Random(1));
        double high = draws.Count(e => e.Text == "high") / 4000.0;
        Assert.InRange(high, 0.88, 0.92);
        Assert.Equal(buffer.Sample(50, new Random(7)).Select(e => e.Text), buffer.Sample(50, new Random(7)).Select(e => e.Text));
    }

    [Fact]
    public void A_saved_buffer_loads_back_identically()
    {
        using var dir = new TempDirectory();
        var buffer = new ReplayBuffer(5);
        buffer.Add(E("one two", -1.25, [0.5f, 1]) with { Terms = new RewardTerms(-3.5, -0.1) });
        buffer.Add(E("three four", 2.0 / 3));
        string path = Path.Combine(dir.Path, "buffer.json");
        buffer.Save(path);
        var loaded = new ReplayBuffer(5);
        loaded.Load(path);
        Assert.Equal(buffer.Entries.Select(e => (e.Text, e.LogReward, e.Terms)), loaded.Entries.Select(e => (e.Text, e.LogReward, e.Terms)));
        Assert.Equal(buffer.Entries[0].Embedding, loaded.Entries[0].Embedding);
        File.WriteAllText(path, "{}");
        Assert.Contains("buffer.json", Assert.Throws<InvalidDataException>(() => loaded.Load(path)).Message);
    }
}

public class GflowNetTrainerTests
{
    [Fact]
    public void Log_z_head_maps_contexts_to_one_scalar_each_and_learns_through_its_own_gradient()
    {
        using var model = TinyModels.Create(TinyModels.Gpt2(vocab: 8));
        using var head = new LogZHead(32);
        using var z = head.Estimate(model, [[1, 2, 3], [4]]);
        Assert.Equal([2L], z.shape);
        Assert.Equal(0, z.abs().max().item<float>());                           // starts at log Z = 0
        z.sum().backward();
        Assert.All(head.parameters(), p => Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0));
        Assert.All(model.parameters(), p => Assert.True(p.grad is null));      // the LM's hidden states are read without grad
    }

    static GflowNetConfig Small => new()
    {
        LearningRate = 1e-3, LogZLearningRate = 1e-2, WarmupSteps = 2, MaxSteps = 6, BatchSize = 4, GradientAccumulation = 2,
        MinTokens = 2, MaxTokens = 4, StopIds = new HashSet<int> { 7 }, Seed = 3,
    };

    static GflowNetScores Score(IReadOnlyList<int[]> ids, IReadOnlyList<string> _) =>
        new(ids.Select(x => new RewardTerms(-x.Length, x.Count(t => t == 2))).ToList(), Metrics: new Dictionary<string, double> { ["custom"] = 1 });

    [Fact]
    public void A_run_resumed_from_saved_state_repeats_the_uninterrupted_run()
    {
        using var dir = new TempDirectory();
        // Every model starts from one saved init: TinyModels draws from libtorch's global generator,
        // which tests running in parallel share.
        string init = Path.Combine(dir.Path, "init.bin"), snapshot = Path.Combine(dir.Path, "model.bin");
        using (var first = TinyModels.Create(TinyModels.Gpt2(vocab: 8))) first.save(init);
        Ares.Models.Nn.CausalLM Fresh() { var m = TinyModels.Create(TinyModels.Gpt2(vocab: 8)); m.load(init); return m; }

        var full = new List<IReadOnlyDictionary<string, double>>();
        using (var model = Fresh())
        using (var trainer = new GflowNetTrainer(model, new IdTokenizer(8), [1], Small))
            trainer.Train(Score, (_, m) => full.Add(m));

        var resumed = new List<IReadOnlyDictionary<string, double>>();
        using (var model = Fresh())
        using (var trainer = new GflowNetTrainer(model, new IdTokenizer(8), [1], Small with { MaxSteps = 3 }))
        {
            trainer.Train(Score, (_, m) => resumed.Add(m));
            trainer.SaveState(dir.Path);
            model.save(snapshot);
        }
        using (var model = TinyModels.Create(TinyModels.Gpt2(vocab: 8), seed: 99))
        {
            model.load(snapshot);
            using var trainer = new GflowNetTrainer(model, new IdTokenizer(8), [1], Small);
            trainer.LoadState(dir.Path);
            trainer.Train(Score, (_, m) => resumed.Add(m), startStep: 3);
        }
        Assert.Equal(6, resumed.Count);
        foreach (var key in new[] { "tb/loss", "tb/log_z", "reward/mean", "buffer/size", "replay", "temperature" })
            Assert.Equal(full.Select(m => m[key]), resumed.Select(m => m[key]));
        Assert.Contains(full, m => m["replay"] == 1);
        Assert.Contains(full, m => m["replay"] == 0 && m["custom"] == 1);
        Assert.All(full, m => Assert.True(double.IsFinite(m["tb/loss"]) && m["lr"] > 0));
    }

    [Fact]
    public void A_training_step_leaks_no_tensors()
    {
        using var model = TinyModels.Create(TinyModels.Gpt2(vocab: 8));
        using var trainer = new GflowNetTrainer(model, new IdTokenizer(8), [1], Small with { MaxSteps = 10 });
        var live = new List<long>();
        trainer.Train(Score, (_, _) => live.Add(TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        Assert.Equal(live[2], live[^1]);    // steps 0–1 create AdamW's state and the gradients
    }

    [Fact]
    public void Too_short_sequences_get_the_penalty_without_reaching_the_reward_callback()
    {
        using var model = TinyModels.Create(TinyModels.Gpt2(vocab: 8));
        var config = Small with { MinTokens = 4, MaxTokens = 4, ReplayProbability = 0, StopIds = new HashSet<int> { 0, 1, 2, 3, 4, 5, 6, 7 }, MaxSteps = 1 };
        using var trainer = new GflowNetTrainer(model, new IdTokenizer(8), [1], config);
        var m = trainer.Step(0, (_, _) => throw new InvalidOperationException("called"));
        Assert.Equal(1, m["too_short"]);
        Assert.Equal(config.TooShortLogReward, m["reward/mean"]);
        Assert.Equal(0, trainer.Buffer.Count);
    }

    [Fact]
    public void Bad_settings_name_the_field()
    {
        var e = Assert.Throws<ArgumentException>(() => (Small with { MaxTokens = 1 }).Validate());
        Assert.Contains("GflowNetConfig.MaxTokens", e.Message);
        Assert.Contains("ReplayProbability", Assert.Throws<ArgumentException>(() => (Small with { ReplayProbability = 2 }).Validate()).Message);
        Assert.Equal(1.1, new GflowNetConfig().GammaAt(500), 9);
        Assert.Equal(1.0, new GflowNetConfig().RewardTemperatureAt(5000), 9);
    }
}
