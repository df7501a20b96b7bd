using System.CommandLine;
using Ares.Core.Formats;
using Ares.Models;
using Ares.Models.Loading;

namespace Ares.Cli.Commands;

/// <summary>`ares model info|export|quantize`: inspect a checkpoint, save it as a Hugging Face directory, or quantise a GGUF.</summary>
internal static class ModelCommand
{
    public static Command Create()
    {
        var cmd = new Command("model", "Inspect or convert models");
        cmd.Add(Info());
        cmd.Add(Export());
        cmd.Add(Quantize());
        return cmd;
    }

    static Command Info()
    {
        var path = new Argument<string>("PATH") { Description = "A Hugging Face model directory or a .gguf file" };
        var cmd = new Command("info", "Print architecture, sizes, dtypes, parameter count and tokenizer kind (reads headers only)") { path };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var info = ModelInspector.Inspect(r.GetValue(path)!);
            var c = info.Config;
            Console.WriteLine($"path:            {info.Path}");
            Console.WriteLine($"format:          {info.Format}");
            Console.WriteLine($"architecture:    {c.ModelType} ({c.HfArchitectureName})");
            Console.WriteLine($"layers:          {c.NumLayers}");
            Console.WriteLine($"hidden size:     {c.HiddenSize}");
            Console.WriteLine($"intermediate:    {c.IntermediateSize}");
            Console.WriteLine($"attention heads: {c.NumHeads} (key/value heads {c.NumKvHeads}, head dim {c.HeadDim})");
            Console.WriteLine($"vocab size:      {c.VocabSize}");
            Console.WriteLine($"context length:  {c.MaxPositions}");
            if (c.Architecture != Architecture.Gpt2)
                Console.WriteLine($"rope:            theta {c.RopeTheta}" +
                    $"{(c.RopeLlama3 is { } s ? $", llama3 scaling ×{s.Factor}" : c.RopeLinearFactor != 1 ? $", linear scaling ×{c.RopeLinearFactor}" : "")}" +
                    $"{(c.RotaryDim != c.HeadDim ? $", rotary dims {c.RotaryDim} of {c.HeadDim}" : "")}" +
                    $"{(c.RopeLongRope is { } lr ? $", longrope (original context {lr.OriginalMaxPositions}, attention factor {lr.AttentionFactor:G6})" : "")}");
            if (c.RopeLocalTheta is double local) Console.WriteLine($"rope (local):    theta {local} (sliding-window layers)");
            if (c.SlidingLayers is { } sl && c.SlidingWindow is int gw)
                Console.WriteLine($"sliding window:  {gw} tokens ({sl.Count(x => x)} of {sl.Count} layers; the others global)");
            else
                Console.WriteLine($"sliding window:  {(c.SlidingWindow is int w ? $"{w}{(c.SlidingWindowFromLayer > 0 ? $" (layers {c.SlidingWindowFromLayer}..{c.NumLayers - 1})" : "")}" : "none")}");
            if (c.AttnLogitSoftcap is not null || c.FinalLogitSoftcap is not null)
                Console.WriteLine($"soft-caps:       attention {c.AttnLogitSoftcap?.ToString() ?? "none"}, final logits {c.FinalLogitSoftcap?.ToString() ?? "none"}");
            if (c.QueryPreAttnScalar is double qs) Console.WriteLine($"attn scale:      query_pre_attn_scalar {qs} (scores × {1 / Math.Sqrt(qs):G4})");
            Console.WriteLine($"norm eps:        {c.NormEps}");
            Console.WriteLine($"tied embeddings: {(c.TieWordEmbeddings ? "yes" : "no")}");
            if (c.NumLabels is int n) Console.WriteLine($"score head:      {n} label(s)");
            Console.WriteLine($"dtypes:          {string.Join(", ", info.DTypes.OrderByDescending(d => d.Value).Select(d => $"{d.Key} ×{d.Value}"))}");
            Console.WriteLine($"parameters:      {info.ParameterCount:N0} ({info.ParameterCount / 1e6:F2} M)");
            Console.WriteLine($"tokenizer:       {info.TokenizerKind} (vocab {info.TokenizerVocab}, bos {Id(info.BosId)}, eos {Id(info.EosId)})");
            Console.WriteLine($"chat format:     {info.ChatFormat}");
            return 0;
        }));
        return cmd;
    }

    static string Id(int? id) => id?.ToString() ?? "none";

    static Command Export()
    {
        var path = new Argument<string>("PATH") { Description = "A Hugging Face model directory or a .gguf file" };
        var output = new Option<string>("--out", "-o") { Description = "Directory to write (config.json, model.safetensors, tokenizer files)", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Stored dtype: float32 (default), bfloat16 or float16", DefaultValueFactory = _ => "float32" };
        var cmd = new Command("export", "Save a model as a Hugging Face directory that transformers and Ares load") { path, output, dtype };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            using var m = ModelLoader.Load(r.GetValue(path)!);
            var stored = r.GetValue(dtype)!.ToLowerInvariant() switch
            {
                "float32" or "fp32" => TensorDType.F32,
                "bfloat16" or "bf16" => TensorDType.BF16,
                "float16" or "fp16" => TensorDType.F16,
                var d => throw new ArgumentException($"--dtype '{d}' is not supported: float32, bfloat16 or float16"),
            };
            HfModelSaver.Save(m, r.GetValue(output)!, stored);
            Console.Error.WriteLine($"wrote {r.GetValue(output)}");
            return 0;
        }));
        return cmd;
    }

    static Command Quantize()
    {
        var path = new Argument<string>("PATH") { Description = "A .gguf file (F32, F16, BF16 or any type Ares reads)" };
        var output = new Option<string>("--out", "-o") { Description = "The .gguf file to write", Required = true };
        var type = new Option<string>("--type") { Description = "Recipe, as llama-quantize names it: q4_k_m (default), q5_k_m, q8_0 or q4_0", DefaultValueFactory = _ => "q4_k_m" };
        var cmd = new Command("quantize", "Write a GGUF with its weight matrices quantised by one of llama.cpp's recipes (norms stay F32)") { path, output, type };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            string input = r.GetValue(path)!, outPath = r.GetValue(output)!;
            if (Directory.Exists(input))
                throw new ArgumentException($"{input}: quantize reads a .gguf file; convert a Hugging Face directory with llama.cpp's convert_hf_to_gguf.py first");
            if (!File.Exists(input)) throw new FileNotFoundException($"{input}: no such file");
            var mix = GgufQuantizer.ParseMix(r.GetValue(type)!);
            var plan = GgufQuantizer.Quantize(input, outPath, mix);
            foreach (var g in plan.GroupBy(p => p.To).OrderByDescending(g => g.Count()))
                Console.WriteLine($"{g.Key,-5} ×{g.Count()}");
            Console.Error.WriteLine($"wrote {outPath} ({new FileInfo(input).Length / 1e6:F2} MB → {new FileInfo(outPath).Length / 1e6:F2} MB)");
            return 0;
        }));
        return cmd;
    }
}
