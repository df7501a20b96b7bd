using Ares.Models.Generation;
using Ares.Models.Nn;

namespace Ares.Models.Benchmarks;

/// <summary>One benchmark shape: <see cref="Batch"/> sequences of <see cref="PromptTokens"/> prompt tokens, then <see cref="NewTokens"/> decode steps.</summary>
internal sealed record GenerationShape(int Batch, int PromptTokens, int NewTokens);

/// <summary>Median, min and max of one rate over the rounds.</summary>
internal sealed record RateStats(double Median, double Min, double Max)
{
    public static RateStats Of(IReadOnlyList<double> xs)
    {
        if (xs.Count == 0) throw new ArgumentException("no rounds to summarise");
        var s = xs.Order().ToArray();
        double median = s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        return new RateStats(median, s[0], s[^1]);
    }
}

internal sealed record GenerationBenchResult(GenerationShape Shape, RateStats PrefillTokensPerSecond, RateStats GenTokensPerSecond, int Rounds);

/// <summary>
/// Prompt-processing and generation throughput in llama-batched-bench's shapes (`-npp P -ntg N -npl B`):
/// prefill tokens/s = B·P / (time of the prompt forward, one batch of B·P tokens, and the first
/// token's sampling); generation tokens/s = B·N / (time of the N one-token-per-row decode steps that
/// follow, each a forward over the cache plus greedy sampling). So N decode forwards are timed, as
/// llama-batched-bench times N decodes of B tokens. Prompts are random ids, all of length P (no padding).
/// </summary>
internal static class GenerationBenchmark
{
    static readonly TimeSpan DefaultWarmUp = TimeSpan.FromSeconds(1.5);

    /// <param name="cpuClock">
    /// Rates over the calling thread's CPU time instead of wall-clock time: meaningful with one
    /// libtorch thread, where it is the compute time whatever else holds the cores (a shared machine).
    /// </param>
    /// <param name="warmUp">Untimed generation before the timed rounds: at least one round, and rounds until this much time has passed.</param>
    public static GenerationBenchResult Run(CausalLM model, GenerationShape shape, int rounds, int seed = 0, bool cpuClock = false, TimeSpan? warmUp = null)
    {
        if (cpuClock && !ThreadCpuClock.IsSupported) throw new NotSupportedException("the CPU clock (--clock cpu) needs Linux's per-thread CPU time");
        if (shape.Batch < 1 || shape.PromptTokens < 1 || shape.NewTokens < 1 || rounds < 1)
            throw new ArgumentException($"batch, prompt tokens, new tokens and rounds must be ≥ 1, got {shape.Batch}, {shape.PromptTokens}, {shape.NewTokens}, {rounds}");
        if (!model.HasLmHead) throw new ArgumentException("a sequence-classification model cannot generate: bench generate needs an LM head");
        int vocab = model.Config.VocabSize;
        var rng = new Random(seed);
        var prompts = Enumerable.Range(0, shape.Batch)
            .Select(_ => Enumerable.Range(0, shape.PromptTokens).Select(_ => rng.Next(Math.Min(3, vocab - 1), vocab)).ToArray()).ToList();
        var generator = new TextGenerator(model, new IdTokenizer(vocab));
        // N + 1 new tokens: the first comes from the prefill forward, the other N from N decode forwards.
        var options = new GenerationOptions { MaxNewTokens = shape.NewTokens + 1, Temperature = 0, StopIds = new HashSet<int>() };
        var prefill = new List<double>();
        var gen = new List<double>();
        // Untimed rounds first, as llama-batched-bench and tools/LlamaCppBench run one for each shape: the first
        // calls pay for kernel selection and allocator growth, and .NET's tiered JIT takes about a second of a
        // hot loop to reach its optimised code (the first shape of a process measured 30 % slower without this).
        var warm = System.Diagnostics.Stopwatch.StartNew();
        do generator.Generate(prompts, options); while (warm.Elapsed < (warmUp ?? DefaultWarmUp));
        for (int round = 0; round < rounds; round++)
        {
            generator.Generate(prompts, options);
            var t = generator.LastTimings!;
            prefill.Add(t.PrefillTokens / (cpuClock ? t.PrefillCpuSeconds : t.PrefillSeconds));
            gen.Add(t.DecodeTokens / (cpuClock ? t.DecodeCpuSeconds : t.DecodeSeconds));
        }
        return new GenerationBenchResult(shape, RateStats.Of(prefill), RateStats.Of(gen), rounds);
    }
}
