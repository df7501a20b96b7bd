using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Nn;
using Ares.Models.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class RewardAndClassifierTrainingTests
{
    [Fact]
    public void Bradley_Terry_loss_matches_hand_computed_values()
    {
        // Pair 0: Δ = 2 → −log σ(2) = log(1 + e^−2) = 0.126928; pair 1: Δ = 0 → ln 2 = 0.693147.
        using var chosen = tensor(new float[] { 2, 0.5f });
        using var rejected = tensor(new float[] { 0, 0.5f });
        using var mean = Losses.BradleyTerry(chosen, rejected);
        Assert.Equal((0.126928 + 0.693147) / 2, mean.item<float>(), 5);
        // A margin of 1 on pair 0 leaves Δ − m = 1 → −log σ(1) = 0.313262.
        using var margin = tensor(new float[] { 1, 0 });
        using var withMargin = Losses.BradleyTerry(chosen, rejected, margin);
        Assert.Equal((0.313262 + 0.693147) / 2, withMargin.item<float>(), 5);
        // Divided by the accumulated batch's pair count instead of this micro-batch's.
        using var partial = Losses.BradleyTerry(chosen, rejected, pairCount: 4);
        Assert.Equal((0.126928 + 0.693147) / 4, partial.item<float>(), 5);
        // Swapping chosen and rejected: −log σ(−2) = 2.126928.
        using var swapped = Losses.BradleyTerry(rejected, chosen);
        Assert.Equal((2.126928 + 0.693147) / 2, swapped.item<float>(), 5);
    }

    [Fact]
    public void Reward_centring_and_classification_losses_match_hand_computed_values()
    {
        // (1 + 0.5)² + (−1 + 0.5)² = 2.25 + 0.25, over 2 pairs.
        using var centring = Losses.RewardCentering(tensor(new float[] { 1, -1 }), tensor(new float[] { 0.5f, 0.5f }), 2);
        Assert.Equal(1.25, centring.item<float>(), 5);
        // Row 0: uniform over 2 → ln 2. Row 1: logits (ln 3, 0) → p(0) = 3/4 → −ln 0.75 = 0.287682.
        using var logits = tensor(new float[] { 0, 0, MathF.Log(3), 0 }).reshape(2, 2);
        using var labels = tensor(new long[] { 1, 0 });
        using var ce = Losses.ClassificationCrossEntropy(logits, labels);
        Assert.Equal((0.693147 + 0.287682) / 2, ce.item<float>(), 5);
        using var ceOver4 = Losses.ClassificationCrossEntropy(logits, labels, count: 4);
        Assert.Equal((0.693147 + 0.287682) / 4, ceOver4.item<float>(), 5);
        Assert.Throws<ArgumentException>(() => Losses.BradleyTerry(tensor(new float[] { 1 }), tensor(new float[] { 1, 2 })));
    }

    [Fact]
    public void Training_scores_are_the_scores_inference_reads_at_the_last_real_token()
    {
        using var model = TinyModels.Create(TinyModels.Llama(vocab: 32, labels: 2), seed: 3);
        int[][] seqs = [[1, 5, 9, 3, 7], [1, 4], [2, 8, 8]];
        using var noGrad = no_grad();
        using var trained = ScoreHeadBatches.LastTokenLogits(model, seqs);   // right-padded, no mask
        using var inferred = SequenceScorer.Scores(model, seqs);             // padding mask
        Assert.Equal([3L, 2L], trained.shape);
        Assert.True(trained.allclose(inferred, rtol: 1e-5, atol: 1e-5));
    }

    /// <summary>Pairs whose chosen sequence ends in 5 and rejected in 6 after the same random prefix.</summary>
    static List<PreferencePair> EndingPairs(int count, int seed = 11)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var prefix = Enumerable.Range(0, rng.Next(2, 6)).Select(_ => rng.Next(7, 32)).Prepend(1).ToArray();
            return new PreferencePair([.. prefix, 5], [.. prefix, 6]);
        }).ToList();
    }

    static double PairwiseAccuracy(CausalLM model, IReadOnlyList<PreferencePair> pairs)
    {
        using var noGrad = no_grad();
        using var chosen = SequenceScorer.Scores(model, pairs.Select(p => p.ChosenIds).ToList());
        using var rejected = SequenceScorer.Scores(model, pairs.Select(p => p.RejectedIds).ToList());
        return (chosen > rejected).to_type(ScalarType.Float32).mean().item<float>();
    }

    [Fact]
    public void Bradley_Terry_training_raises_pairwise_accuracy_on_held_out_pairs()
    {
        using var model = TinyModels.Create(TinyModels.Llama(vocab: 32, labels: 1), seed: 5);
        var train = EndingPairs(48);
        var heldOut = EndingPairs(32, seed: 99);
        double before = PairwiseAccuracy(model, heldOut);
        using var trainer = new RewardTrainer(model, new RewardConfig { LearningRate = 3e-3, BatchSize = 8, MaxSteps = 25 });
        var metrics = new List<IReadOnlyDictionary<string, double>>();
        trainer.Train(train, (_, m) => metrics.Add(m));
        double after = PairwiseAccuracy(model, heldOut);
        Assert.True(after == 1.0 && after > before, $"held-out pairwise accuracy went from {before:P0} to {after:P0}");
        Assert.True(metrics[^1]["loss"] < 0.5 * metrics[0]["loss"], $"loss went from {metrics[0]["loss"]:F3} to {metrics[^1]["loss"]:F3}");
        Assert.True(metrics[^1]["margin"] > 0);
        Assert.All(metrics, m => Assert.InRange(m["accuracy"], 0, 1));
        Assert.Equal(["accuracy", "grad_norm", "loss", "lr", "margin", "tokens_per_s"], metrics[0].Keys.Order());
    }

    [Fact]
    public void Reward_gradients_accumulate_to_those_of_one_large_batch()
    {
        var pairs = EndingPairs(4);
        Dictionary<string, Tensor> Grads(int batch, int accumulation)
        {
            using var model = TinyModels.Create(TinyModels.Llama(vocab: 32, labels: 1), seed: 7);
            using var trainer = new RewardTrainer(model, new RewardConfig { BatchSize = batch, GradientAccumulation = accumulation, CenterRewardsCoefficient = 0.1 });
            trainer.AccumulateGradients(pairs);
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var one = Grads(4, 1);
        var four = Grads(1, 4);
        foreach (var (name, g) in one)
            Assert.True(g.allclose(four[name], rtol: 1e-4, atol: 1e-6), $"{name}: gradients differ");
    }

    [Fact]
    public void Classifier_training_learns_a_separable_task()
    {
        // Label 1 when the sequence starts with 3, else 0 (it starts with 4): the last token must attend to the first.
        var rng = new Random(5);
        List<ClassifierExample> Task(int n) => Enumerable.Range(0, n).Select(_ =>
        {
            int label = rng.Next(2);
            return new ClassifierExample([label == 1 ? 3 : 4, .. Enumerable.Range(0, rng.Next(1, 5)).Select(_ => rng.Next(7, 32))], label);
        }).ToList();
        var train = Task(64);
        var heldOut = Task(32);
        using var model = TinyModels.Create(TinyModels.Llama(vocab: 32, labels: 2), seed: 2);
        using var trainer = new ClassifierTrainer(model, new ClassifierConfig { LearningRate = 3e-3, BatchSize = 16, MaxSteps = 30 });
        var losses = new List<double>();
        trainer.Train(train, (_, m) => losses.Add(m["loss"]));
        using var noGrad = no_grad();
        using var logits = SequenceScorer.Scores(model, heldOut.Select(e => e.Ids).ToList());
        var predicted = logits.argmax(1).data<long>().ToArray();
        int correct = heldOut.Where((e, i) => predicted[i] == e.Label).Count();
        Assert.True(correct == heldOut.Count, $"held-out accuracy {correct}/{heldOut.Count}; loss {losses[0]:F3} → {losses[^1]:F3}");
    }

    [Fact]
    public void Trainers_refuse_the_wrong_head_and_bad_labels()
    {
        using var lm = TinyModels.Create(TinyModels.Llama(vocab: 32));
        using var two = TinyModels.Create(TinyModels.Llama(vocab: 32, labels: 2));
        Assert.Contains("num_labels = 1", Assert.Throws<ArgumentException>(() => new RewardTrainer(lm, new RewardConfig())).Message);
        Assert.Contains("num_labels = 1", Assert.Throws<ArgumentException>(() => new RewardTrainer(two, new RewardConfig())).Message);
        Assert.Contains("num_labels ≥ 2", Assert.Throws<ArgumentException>(() => new ClassifierTrainer(lm, new ClassifierConfig())).Message);
        using var trainer = new ClassifierTrainer(two, new ClassifierConfig { MaxSteps = 1 });
        Assert.Contains("label 2", Assert.Throws<ArgumentException>(() => trainer.Train([new ClassifierExample([1, 2], 2)])).Message);
        Assert.Throws<ArgumentException>(() => new RewardConfig { CenterRewardsCoefficient = -1 }.Validate());
    }

    [Fact]
    public void Reward_training_does_not_leak_tensors_per_step()
    {
        using var model = TinyModels.Create(TinyModels.Llama(vocab: 32, labels: 1));
        using var trainer = new RewardTrainer(model, new RewardConfig { BatchSize = 4, GradientAccumulation = 2, MaxSteps = 8, CenterRewardsCoefficient = 0.01 });
        var live = new List<long>();
        trainer.Train(EndingPairs(16), (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        Assert.Equal(live[2], live[^1]);    // steps 0–1 create AdamW's state and the gradients
    }

    [Fact]
    public void Label_names_are_written_as_id2label_and_read_back()
    {
        using var dir = new TempDirectory();
        var config = TinyModels.Llama(vocab: 32, labels: 2) with { LabelNames = ["safe", "unsafe"] };
        using var model = TinyModels.Create(config);
        HfModelSaver.Save(model, dir.Path, Ares.Core.Formats.TensorDType.F32, _ => { });
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!;
        Assert.Equal("unsafe", (string?)json["id2label"]!["1"]);
        Assert.Equal(0, (int)json["label2id"]!["safe"]!);
        var back = HfModelLoader.ReadConfig(dir.Path);
        Assert.Equal(["safe", "unsafe"], back.LabelNames);
        // HF's defaults (LABEL_0, LABEL_1) read back as no names, so such configs round-trip unchanged.
        using var plain = TinyModels.Create(TinyModels.Llama(vocab: 32, labels: 2));
        HfModelSaver.Save(plain, dir.File("plain"), Ares.Core.Formats.TensorDType.F32, _ => { });
        Assert.Null(HfModelLoader.ReadConfig(dir.File("plain")).LabelNames);
        Assert.Throws<NotSupportedException>(() => (config with { LabelNames = ["only one"] }).Validate("test"));
    }
}
