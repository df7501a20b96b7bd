using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using LLama;
using LLama.Common;
using LLama.Native;

// llama-batched-bench's measurement (-npp P -ntg N -npl B, separate prompts per sequence) through
// LLamaSharp's llama.cpp, printed as `ares bench generate --json` prints it, so the two can be set
// side by side on one GGUF in one time window:
//   prefill tok/s = B·P / time of the one decode call over all B·P prompt tokens;
//   gen tok/s     = B·N / time of the N decode calls of B tokens (one per sequence) that follow.
// The first round of each shape is a warm-up and is not counted.
var o = Options.Parse(args);
if (o is null) return 2;
NativeLibraryConfig.All.WithLogCallback((_, _) => { });
int maxB = o.Batches.Max(), maxP = o.PromptTokens.Max();
var p = new ModelParams(o.Model)
{
    ContextSize = (uint)(maxB * (maxP + o.NewTokens) + 16), BatchSize = (uint)(maxB * maxP), UBatchSize = 512,
    SeqMax = (uint)maxB, Threads = o.Threads, BatchThreads = o.Threads, GpuLayerCount = 0, FlashAttention = o.FlashAttention,
};
using var weights = LLamaWeights.LoadFromFile(p);
using var ctx = weights.CreateContext(p);
Console.Error.WriteLine($"llama.cpp (LLamaSharp 0.30): {Marshal.PtrToStringAnsi(NativeApi.llama_print_system_info())}");
var rng = new Random(0);
int vocab = weights.Vocab.Count;
foreach (int b in o.Batches)
    foreach (int pp in o.PromptTokens)
    {
        var prefill = new List<double>();
        var gen = new List<double>();
        for (int round = 0; round <= o.Rounds; round++)
        {
            ctx.NativeHandle.MemoryClear(true);
            var batch = new LLamaBatch();
            for (int j = 0; j < b; j++)
                for (int i = 0; i < pp; i++) batch.Add(rng.Next(3, vocab), i, (LLamaSeqId)j, i == pp - 1);
            var sw = Stopwatch.StartNew();
            Check(ctx.Decode(batch));
            double tPrefill = sw.Elapsed.TotalSeconds;
            sw.Restart();
            for (int t = 0; t < o.NewTokens; t++)
            {
                batch.Clear();
                for (int j = 0; j < b; j++) batch.Add(rng.Next(3, vocab), pp + t, (LLamaSeqId)j, true);
                Check(ctx.Decode(batch));
            }
            double tGen = sw.Elapsed.TotalSeconds;
            if (round == 0) continue;
            prefill.Add(b * pp / tPrefill);
            gen.Add(b * o.NewTokens / tGen);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"engine\":\"llama.cpp\",\"flash_attn\":{(o.FlashAttention ? "true" : "false")},\"threads\":{o.Threads},\"batch\":{b},\"prompt_tokens\":{pp},\"new_tokens\":{o.NewTokens},\"prefill_tok_s\":{Median(prefill):F1},\"gen_tok_s\":{Median(gen):F1},\"rounds\":{o.Rounds}}}"));
    }
return 0;

static void Check(DecodeResult r)
{
    if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {r}");
}

static double Median(List<double> xs)
{
    var s = xs.Order().ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
}

sealed record Options(string Model, int[] Batches, int[] PromptTokens, int NewTokens, int Threads, int Rounds, bool FlashAttention)
{
    const string Usage = "usage: llamacpp-bench --model FILE.gguf [--batch 1,16] [--prompt-tokens 16,128] [--new-tokens 64] [--threads 2] [--rounds 2] [--flash-attn on|off]";

    public static Options? Parse(string[] args)
    {
        string? model = null;
        int[] batches = [1, 16], prompts = [16, 128];
        int newTokens = 64, threads = 2, rounds = 2;
        bool fa = true;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--model": model = Next(); break;
                    case "--batch": batches = Ints(Next(), "--batch"); break;
                    case "--prompt-tokens": prompts = Ints(Next(), "--prompt-tokens"); break;
                    case "--new-tokens": newTokens = Ints(Next(), "--new-tokens").Single(); break;
                    case "--threads": threads = Ints(Next(), "--threads").Single(); break;
                    case "--rounds": rounds = Ints(Next(), "--rounds").Single(); break;
                    case "--flash-attn": fa = Next() switch { "on" => true, "off" => false, var v => throw new ArgumentException($"--flash-attn: expected on or off, got '{v}'") }; break;
                    case "-h" or "--help": Console.WriteLine(Usage); return null;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            if (model is null) throw new ArgumentException("--model is required");
            if (!File.Exists(model)) throw new ArgumentException($"{model}: no such file");
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}\n{Usage}");
            return null;
        }
        return new Options(model, batches, prompts, newTokens, threads, rounds, fa);
    }

    static int[] Ints(string s, string option)
    {
        var parts = s.Split(',');
        var xs = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out xs[i]) || xs[i] < 1)
                throw new ArgumentException($"{option}: expected positive integers separated by commas, got '{s}'");
        return xs;
    }
}
