using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Ares.Models.Benchmarks;
using Ares.Models.Loading;

namespace Ares.Cli.Commands;

/// <summary>
/// `ares bench model`: training tokens/s and MFU, KV-cached generation tokens/s at batch 1 and 16.
/// `ares bench generate`: prefill and generation tokens/s of any model file in llama-batched-bench's shapes.
/// `ares bench write-model`: the issue's random-weight 29.5 M Llama as a GGUF both Ares and llama.cpp load.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "Model size: tiny, 10m or 30m (a ~30M-parameter Llama)", DefaultValueFactory = _ => "30m" };
        var seq = new Option<int>("--seq") { Description = "Training sequence length", DefaultValueFactory = _ => 128 };
        var batch = new Option<int>("--batch") { Description = "Training batch size (sequences)", DefaultValueFactory = _ => 16 };
        var steps = new Option<int>("--steps") { Description = "Timed training steps (after two warm-up steps)", DefaultValueFactory = _ => 5 };
        var gen = new Option<int>("--gen-tokens") { Description = "Tokens generated per sequence in the generation benchmark", DefaultValueFactory = _ => 64 };
        var threads = new Option<int?>("--threads") { Description = "libtorch intra-op threads (default: libtorch's choice)" };
        var model = new Command("model", "Benchmark training and generation speed on a random-weight Llama of the given size")
        {
            size, seq, batch, steps, gen, threads,
        };
        model.SetAction(r => CliErrors.Run(() =>
        {
            if (r.GetValue(threads) is int t) TorchSharp.torch.set_num_threads(t);
            var c = BenchSizes.Get(r.GetValue(size)!);
            var res = ModelBenchmark.Run(c, r.GetValue(seq), r.GetValue(batch), r.GetValue(steps), r.GetValue(gen), Console.Error.WriteLine);
            Console.WriteLine($"parameters:                {res.Parameters:N0}");
            Console.WriteLine($"threads:                   {TorchSharp.torch.get_num_threads()}");
            Console.WriteLine($"machine peak (fp32 GEMM):  {res.PeakGflops:F1} GFLOP/s (measured)");
            Console.WriteLine($"training:                  {res.TrainTokensPerSecond:F0} tokens/s at sequence {res.SequenceLength}, batch {res.BatchSize}");
            Console.WriteLine($"training model FLOPs:      {res.TrainGflops:F1} GFLOP/s");
            Console.WriteLine($"MFU:                       {res.Mfu:P1}");
            Console.WriteLine($"generation, batch 1:       {res.GenTokensPerSecondBatch1:F0} tokens/s (KV cache)");
            Console.WriteLine($"generation, batch 16:      {res.GenTokensPerSecondBatch16:F0} tokens/s (KV cache, {res.GenTokensPerSecondBatch16 / res.GenTokensPerSecondBatch1:F1}× batch 1)");
            return 0;
        }));
        var cmd = new Command("bench", "Measure speed on this machine");
        cmd.Add(model);
        cmd.Add(Generate());
        cmd.Add(WriteModel());
        return cmd;
    }

    static Command Generate()
    {
        var model = CommonOptions.Model();
        var batch = new Option<string>("--batch") { Description = "Batch sizes, comma-separated (llama-batched-bench -npl)", DefaultValueFactory = _ => "1,16" };
        var prompt = new Option<string>("--prompt-tokens") { Description = "Prompt lengths, comma-separated (-npp)", DefaultValueFactory = _ => "16,128" };
        var newTokens = new Option<int>("--new-tokens") { Description = "Decode steps per shape (-ntg)", DefaultValueFactory = _ => 64 };
        var rounds = new Option<int>("--rounds") { Description = "Timed rounds per shape after one untimed warm-up round (median, min, max are reported)", DefaultValueFactory = _ => 3 };
        var dtype = CommonOptions.DType();
        var threads = new Option<int?>("--threads") { Description = "libtorch intra-op threads (default: libtorch's choice)" };
        var json = new Option<bool>("--json") { Description = "One JSON object per line and shape instead of a table" };
        var clock = new Option<string>("--clock")
        {
            Description = "wall (default) or cpu: rates over this thread's CPU time, for A/B runs on a shared machine (use with --threads 1)",
            DefaultValueFactory = _ => "wall",
        };
        var cmd = new Command("generate", "Prefill and generation tokens/s of a model (GGUF or HF directory), in llama-batched-bench's shapes")
        {
            model, batch, prompt, newTokens, rounds, dtype, threads, json, clock,
        };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            if (r.GetValue(threads) is int t)
            {
                if (t < 1) throw new ArgumentException($"--threads must be ≥ 1, got {t}");
                TorchSharp.torch.set_num_threads(t);
            }
            var batches = IntList("--batch", r.GetValue(batch)!);
            var prompts = IntList("--prompt-tokens", r.GetValue(prompt)!);
            int n = r.GetValue(newTokens), k = r.GetValue(rounds);
            if (n < 1) throw new ArgumentException($"--new-tokens must be ≥ 1, got {n}");
            if (k < 1) throw new ArgumentException($"--rounds must be ≥ 1, got {k}");
            string dt = r.GetValue(dtype)!;
            bool cpu = r.GetValue(clock) switch
            {
                "wall" => false,
                "cpu" => true,
                var other => throw new ArgumentException($"--clock '{other}' is not known: wall or cpu"),
            };
            using var m = ModelLoader.Load(r.GetValue(model)!, CommonOptions.LoadOptions(dt));
            int context = m.Config.MaxSequenceLength;
            if (prompts.Max() + n + 1 > context)
                throw new ArgumentException($"--prompt-tokens {prompts.Max()} + --new-tokens {n} + 1 exceeds the model's context of {context}");
            bool asJson = r.GetValue(json);
            if (!asJson)
            {
                Console.WriteLine($"model: {m.SourcePath} ({m.ParameterCount / 1e6:F1} M parameters, {dt}), threads {TorchSharp.torch.get_num_threads()}, {k} rounds, {(cpu ? "CPU" : "wall")} clock");
                Console.WriteLine("| batch | prompt | new | prefill tok/s (median, min–max) | gen tok/s (median, min–max) |");
                Console.WriteLine("|------:|-------:|----:|-------------------------------:|----------------------------:|");
            }
            foreach (int p in prompts)
                foreach (int b in batches)
                {
                    var res = GenerationBenchmark.Run(m.Model, new GenerationShape(b, p, n), k, cpuClock: cpu);
                    Console.WriteLine(asJson ? Json(res, dt, cpu) : Row(res));
                }
            return 0;
        }));
        return cmd;
    }

    static Command WriteModel()
    {
        var output = new Option<string>("--out", "-o") { Description = "GGUF file to write", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed of the normal(0, 0.02) weights", DefaultValueFactory = _ => 0 };
        var cmd = new Command("write-model", "Write the benchmark model: a random-weight 29.5M Llama (dim 512, 8 layers, 8 heads, ffn 1376, vocab 8192, tied, F32) as GGUF")
        {
            output, seed,
        };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            string path = r.GetValue(output)!;
            BenchModelFile.Write(path, BenchModelFile.Issue30M, r.GetValue(seed));
            Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1e6:F1} MB)");
            return 0;
        }));
        return cmd;
    }

    static int[] IntList(string option, string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = parts.Select(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= 1 ? v
            : throw new ArgumentException($"{option} '{text}': '{x}' is not a positive integer (expected e.g. 1,16)")).ToArray();
        return values.Length > 0 ? values : throw new ArgumentException($"{option} is empty (expected e.g. 1,16)");
    }

    static string Row(GenerationBenchResult r) =>
        $"| {r.Shape.Batch,5} | {r.Shape.PromptTokens,6} | {r.Shape.NewTokens,3} | {Stats(r.PrefillTokensPerSecond),30} | {Stats(r.GenTokensPerSecond),27} |";

    static string Stats(RateStats s) => FormattableString.Invariant($"{s.Median:F0} ({s.Min:F0}–{s.Max:F0})");

    static string Json(GenerationBenchResult r, string dtype, bool cpuClock) => new JsonObject
    {
        ["batch"] = r.Shape.Batch,
        ["prompt_tokens"] = r.Shape.PromptTokens,
        ["new_tokens"] = r.Shape.NewTokens,
        ["prefill_tok_s"] = Math.Round(r.PrefillTokensPerSecond.Median, 1),
        ["gen_tok_s"] = Math.Round(r.GenTokensPerSecond.Median, 1),
        ["prefill_tok_s_min"] = Math.Round(r.PrefillTokensPerSecond.Min, 1),
        ["prefill_tok_s_max"] = Math.Round(r.PrefillTokensPerSecond.Max, 1),
        ["gen_tok_s_min"] = Math.Round(r.GenTokensPerSecond.Min, 1),
        ["gen_tok_s_max"] = Math.Round(r.GenTokensPerSecond.Max, 1),
        ["rounds"] = r.Rounds,
        ["dtype"] = dtype,
        ["threads"] = TorchSharp.torch.get_num_threads(),
        ["clock"] = cpuClock ? "cpu" : "wall",
    }.ToJsonString();
}
