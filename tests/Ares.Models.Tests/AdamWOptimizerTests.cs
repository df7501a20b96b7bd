using Ares.Models.Nn;
using Ares.Models.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>Ares's AdamW against TorchSharp's (the reference it replaces), and its saved state.</summary>
public class AdamWOptimizerTests
{
    /// <summary>Two identical tiny Llamas (B copies A's weights: the global seed is shared with parallel tests).</summary>
    static (CausalLM A, CausalLM B) Twins()
    {
        var a = TinyModels.Create(TinyModels.Llama(vocab: 11), seed: 5);
        var b = TinyModels.Create(TinyModels.Llama(vocab: 11), seed: 6);
        using (no_grad())
            foreach (var ((_, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters())) pb.copy_(pa);
        return (a, b);
    }

    /// <summary>Gradients of a fixed loss: the batch depends on the step only (own generator).</summary>
    static void Backward(CausalLM m, int step)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator().manual_seed(100 + step);
        var ids = randint(0, 11, [2, 6], generator: generator);                           // (B, T)
        var positions = ScalarOps.Arange(6).unsqueeze(0).expand(2, 6);                    // (B, T)
        var logits = m.LmLogits(m.Hidden(ids, positions));                                // (B, T, V)
        nn.functional.cross_entropy(logits.reshape(-1, 11), ids.roll(1, 1).reshape(-1)).backward();
    }

    static void AssertBitwiseEqual(CausalLM a, CausalLM b)
    {
        foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(pa.eq(pb).all().item<bool>(), $"{name} differs");
    }

    [Fact]
    public void Steps_bitwise_like_TorchSharps_AdamW_with_decayed_and_undecayed_groups()
    {
        var (a, b) = Twins();
        using var ours = OptimizerFactory.AdamW(a, lr: 3e-3, weightDecay: 0.1);
        var (decay, noDecay) = OptimizerFactory.SplitForWeightDecay(b);
        using var reference = optim.AdamW(new List<AdamW.ParamGroup>
        {
            new(decay.Select(d => d.Param), 3e-3, 0.9, 0.999, 1e-8, 0.1),
            new(noDecay.Select(d => d.Param), 3e-3, 0.9, 0.999, 1e-8, 0.0),
        }, 3e-3);
        for (int step = 0; step < 5; step++)
        {
            foreach (var g in ours.ParamGroups) g.LearningRate = 3e-3 * (1 - 0.1 * step);  // a schedule, as TrainingLoop sets it
            foreach (var g in reference.ParamGroups) g.LearningRate = 3e-3 * (1 - 0.1 * step);
            ours.ZeroGrad(); Backward(a, step); ours.Step();
            reference.zero_grad(); Backward(b, step); reference.step();
        }
        AssertBitwiseEqual(a, b);
        a.Dispose(); b.Dispose();
    }

    [Fact]
    public void Without_weight_decay_it_is_TorchSharps_Adam()
    {
        var (a, b) = Twins();
        using var ours = new AdamWOptimizer([new(a.parameters().ToList(), 1e-2, 0.9, 0.999, 1e-8, 0)]);
        using var reference = optim.Adam(b.parameters(), 1e-2);
        for (int step = 0; step < 3; step++)
        {
            ours.ZeroGrad(); Backward(a, step); ours.Step();
            reference.zero_grad(); Backward(b, step); reference.step();
        }
        AssertBitwiseEqual(a, b);
        a.Dispose(); b.Dispose();
    }

    [Fact]
    public void Saved_and_loaded_state_continues_exactly_like_an_uninterrupted_run()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "optimizer.safetensors");
        var (a, b) = Twins();
        using var straight = OptimizerFactory.AdamW(a, lr: 1e-2, weightDecay: 0.01);
        for (int step = 0; step < 4; step++) { straight.ZeroGrad(); Backward(a, step); straight.Step(); }

        using (var first = OptimizerFactory.AdamW(b, lr: 1e-2, weightDecay: 0.01))
        {
            for (int step = 0; step < 2; step++) { first.ZeroGrad(); Backward(b, step); first.Step(); }
            first.Save(path);
        }
        using var resumed = OptimizerFactory.AdamW(b, lr: 1e-2, weightDecay: 0.01);
        resumed.Load(path);
        for (int step = 2; step < 4; step++) { resumed.ZeroGrad(); Backward(b, step); resumed.Step(); }
        AssertBitwiseEqual(a, b);
        a.Dispose(); b.Dispose();
    }

    [Fact]
    public void Loading_state_of_another_shape_names_the_file_and_the_mismatch()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "optimizer.safetensors");
        using var small = TinyModels.Create(TinyModels.Llama(vocab: 11));
        using var other = TinyModels.Create(TinyModels.Gpt2(vocab: 11));
        using (var o = OptimizerFactory.AdamW(small, lr: 1e-3)) o.Save(path);
        using var target = OptimizerFactory.AdamW(other, lr: 1e-3);
        var e = Assert.Throws<InvalidDataException>(() => target.Load(path));
        Assert.Contains(path, e.Message);
        File.WriteAllText(path, "not safetensors");
        Assert.ThrowsAny<Exception>(() => target.Load(path));
        Assert.Throws<FileNotFoundException>(() => target.Load(path + ".missing"));
    }
}
