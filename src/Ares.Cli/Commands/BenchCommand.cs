using System.CommandLine;
using Ares.Models.Benchmarks;

namespace Ares.Cli.Commands;

/// <summary>`ares bench model`: training tokens/s and MFU, KV-cached generation tokens/s at batch 1 and 16.</summary>
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
        return cmd;
    }
}
