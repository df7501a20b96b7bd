using System.Diagnostics;
using Ares.Models.Generation;
using Ares.Models.Nn;
using Ares.Models.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Benchmarks;

/// <summary>Sizes for `ares bench model`: random-weight Llamas (the speed of the math does not depend on the values).</summary>
internal static class BenchSizes
{
    public static TransformerConfig Get(string size) => size.ToLowerInvariant() switch
    {
        // ≈ 0.9 M parameters: a smoke test.
        "tiny" => Llama(vocab: 512, d: 128, layers: 4, heads: 4, ff: 352),
        // ≈ 8.7 M parameters.
        "10m" => Llama(vocab: 4096, d: 320, layers: 6, heads: 5, ff: 864),
        // ≈ 33.7 M parameters (25.3 M in blocks, 8.4 M in embedding + LM head): the issue's ~30M model.
        "30m" => Llama(vocab: 8192, d: 512, layers: 8, heads: 8, ff: 1376),
        _ => throw new ArgumentException($"--size '{size}' is not known: tiny, 10m or 30m"),
    };

    static TransformerConfig Llama(int vocab, int d, int layers, int heads, int ff) => new()
    {
        Architecture = Architecture.Llama, VocabSize = vocab, HiddenSize = d, IntermediateSize = ff, NumLayers = layers,
        NumHeads = heads, NumKvHeads = heads, HeadDim = d / heads, MaxPositions = 2048, NormEps = 1e-5,
    };
}

internal sealed record BenchResult(
    long Parameters, double PeakGflops, double TrainTokensPerSecond, double TrainGflops, double Mfu,
    double GenTokensPerSecondBatch1, double GenTokensPerSecondBatch16, int SequenceLength, int BatchSize);

/// <summary>
/// Measures training throughput (tokens/s and model-FLOPs utilisation) and KV-cached generation
/// throughput. Model FLOPs per token follow PaLM (Chowdhery et al. 2022, App. B):
/// 6·N + 12·L·d·T, N = parameters excluding the input embedding (a lookup, not a matmul).
/// The machine peak is measured, not assumed: the best fp32 GEMM rate libtorch reaches here.
/// </summary>
internal static class ModelBenchmark
{
    public static double MeasurePeakGflops(int n = 2048, int repeats = 12)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n); var b = randn(n, n);
        for (int i = 0; i < 2; i++) a.matmul(b).Dispose(); // warm-up
        double best = 0;
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            a.matmul(b).Dispose();
            best = Math.Max(best, 2.0 * n * n * n / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    public static double FlopsPerToken(TransformerConfig c, long parameters, int seq) =>
        6.0 * (parameters - (long)c.VocabSize * c.HiddenSize) + 12.0 * c.NumLayers * c.NumHeads * c.HeadDim * seq;

    public static BenchResult Run(TransformerConfig c, int seq, int batch, int trainSteps, int genTokens, Action<string>? log = null)
    {
        manual_seed(0);
        double peak = MeasurePeakGflops();
        log?.Invoke($"measured fp32 matmul peak: {peak:F1} GFLOP/s");
        using var model = new LlamaForCausalLM(c);
        long parameters = model.parameters().Sum(p => p.numel());
        log?.Invoke($"model: {parameters / 1e6:F1} M parameters, sequence {seq}, batch {batch}");

        using var optimizer = new AdamWOptimizer([new(model.parameters().ToList(), 1e-4, 0.9, 0.999, 1e-8, 0.01)]);
        using var positions = ScalarOps.Arange(seq).unsqueeze(0).expand(batch, seq).contiguous(); // (B, T)
        double seconds = 0;
        const int warmup = 2; // the first steps pay for kernel selection and the allocator growing its pools
        for (int step = 0; step < trainSteps + warmup; step++)
        {
            using var scope = NewDisposeScope();
            var ids = randint(0, c.VocabSize, [batch, seq + 1]);                        // (B, T+1)
            var sw = Stopwatch.StartNew();
            var logits = model.LmLogits(model.Hidden(ids.narrow(1, 0, seq), positions)); // (B, T, V)
            var loss = nn.functional.cross_entropy(logits.reshape(-1, c.VocabSize), ids.narrow(1, 1, seq).reshape(-1));
            optimizer.ZeroGrad();
            loss.backward();
            optimizer.Step();
            if (step >= warmup) seconds += sw.Elapsed.TotalSeconds;
        }
        double trainTps = (double)trainSteps * batch * seq / seconds;
        // Measure the peak again now that the machine is warm; the best of both is the bar (a low peak would flatter MFU).
        peak = Math.Max(peak, MeasurePeakGflops());
        double flops = FlopsPerToken(c, parameters, seq) * trainTps / 1e9;
        log?.Invoke($"training: {trainTps:F0} tokens/s, {flops:F1} GFLOP/s");

        double Gen(int b)
        {
            var tok = new IdTokenizer(c.VocabSize);
            var gen = new TextGenerator(model, tok);
            var prompts = Enumerable.Range(0, b).Select(i => Enumerable.Range(0, 16).Select(j => (i * 31 + j) % c.VocabSize).ToArray()).ToList();
            var o = new GenerationOptions { MaxNewTokens = genTokens, Temperature = 1.0, Seed = 1, StopIds = new HashSet<int>() };
            gen.Generate(prompts, o with { MaxNewTokens = 4 }); // warm-up
            var sw = Stopwatch.StartNew();
            var r = gen.Generate(prompts, o);
            return r.Sum(x => x.TokenIds.Length) / sw.Elapsed.TotalSeconds;
        }
        double g1 = Gen(1), g16 = Gen(16);
        log?.Invoke($"generation: batch 1 {g1:F0} tokens/s, batch 16 {g16:F0} tokens/s");
        return new BenchResult(parameters, peak, trainTps, flops, flops / peak, g1, g16, seq, batch);
    }
}
