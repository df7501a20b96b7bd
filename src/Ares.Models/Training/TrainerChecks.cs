using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>Preconditions every trainer checks.</summary>
internal static class TrainerChecks
{
    /// <summary>Trainable parameters must be fp32: pure-bf16 AdamW would round most updates away.</summary>
    public static void RequireFp32Trainable(CausalLM model)
    {
        foreach (var (name, p) in model.named_parameters())
            if (p.requires_grad && p.dtype is not (ScalarType.Float32 or ScalarType.Float64))
                throw new NotSupportedException($"trainable parameter '{name}' is {p.dtype}: train fp32 parameters, e.g. LoRA adapters over a bf16 base");
    }
}
