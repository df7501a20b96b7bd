using System.CommandLine;
using Ares.Models.Loading;
using static TorchSharp.torch;

namespace Ares.Cli.Commands;

internal static class CommonOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model to load: a Hugging Face directory (config.json, model.safetensors, tokenizer.json) or a .gguf file",
        Required = true,
    };

    public static Option<string> DType() => new("--dtype")
    {
        Description = "Compute dtype: float32 (default) or bfloat16",
        DefaultValueFactory = _ => "float32",
    };

    public static LoadOptions LoadOptions(string dtype, string? chat = null) => new()
    {
        DType = dtype.ToLowerInvariant() switch
        {
            "float32" or "fp32" or "f32" => ScalarType.Float32,
            "bfloat16" or "bf16" => ScalarType.BFloat16,
            _ => throw new ArgumentException($"--dtype '{dtype}' is not supported: use float32 or bfloat16 (fp16 has no fast CPU path)"),
        },
        ChatFormat = chat,
    };
}
