using System.Runtime.CompilerServices;
using Ares.Models.Nn;
using Ares.Models.Training;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>Small random models and data for training tests; seeded through explicit generators, so other tests' draws do not matter.</summary>
internal static class TrainingModels
{
    /// <summary>
    /// One intra-op thread for the whole test assembly: on tensors this small, libtorch's thread
    /// hand-offs cost more than they save (a tiny SFT step ran 15× slower with 2 threads on 2 busy cores).
    /// </summary>
    [ModuleInitializer]
    internal static void SingleThreaded() => set_num_threads(1);

    public static TransformerConfig LlamaConfig { get; } = new()
    {
        Architecture = Architecture.Llama,
        VocabSize = 32,
        HiddenSize = 32,
        IntermediateSize = 64,
        NumLayers = 2,
        NumHeads = 4,
        NumKvHeads = 2,
        HeadDim = 8,
        MaxPositions = 64,
    };

    public static LlamaForCausalLM Llama(long seed = 1, ScalarType dtype = ScalarType.Float32)
    {
        var model = new LlamaForCausalLM(LlamaConfig, dtype);
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (_, p) in model.named_parameters())
            if (p.dim() >= 2) p.uniform_(-0.2, 0.2, generator: generator); // 1-D norm weights keep their ones
        return model;
    }

    /// <summary>Logits (B, T, V) for a fixed batch of two sequences, no grad.</summary>
    public static Tensor Logits(CausalLM model)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, 5, 9, 3, 7, 2, 1, 30, 4, 4, 11, 6 }).reshape(2, 6);  // (B, T)
        var positions = arange(6, dtype: ScalarType.Int64).unsqueeze(0).expand(2, 6);
        return model.LmLogits(model.Hidden(ids, positions)).MoveToOuterDisposeScope();     // (B, T, V)
    }

    /// <summary>
    /// Counting task: after a prompt [1, a] the completion is a+1, a+2, … (mod 32, skipping 0–2).
    /// Each target depends only on the previous token, so a tiny model learns it in a few dozen steps.
    /// </summary>
    public static List<SftExample> CountingTask(int count, int length = 6, int seed = 7)
    {
        var rng = new Random(seed);
        int Next(int x) => x + 1 < 32 ? x + 1 : 3;
        return Enumerable.Range(0, count).Select(_ =>
        {
            int a = rng.Next(3, 32);
            var completion = new int[length];
            for (int i = 0, x = a; i < length; i++) completion[i] = x = Next(x);
            return new SftExample([1, a], completion);
        }).ToList();
    }

    /// <summary>Same shape and bit-identical values.</summary>
    public static bool Identical(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
    }

    public static Dictionary<string, Tensor> Snapshot(CausalLM model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
}
