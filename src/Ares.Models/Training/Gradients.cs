using Ares.Models.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>Gradient utilities shared by every trainer.</summary>
internal static class Gradients
{
    /// <summary>
    /// Scales all gradients so that their global L2 norm is at most <paramref name="maxNorm"/>
    /// (Pascanu et al. 2013) and returns the norm before clipping, the quantity worth logging.
    /// maxNorm = +∞ (or ≤ 0, "off") only measures. Parameters without a gradient are skipped.
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var withGrad = parameters.Where(p => p.grad is not null).ToList();
        if (withGrad.Count == 0) return 0;
        return nn.utils.clip_grad_norm_(withGrad, maxNorm > 0 ? maxNorm : double.PositiveInfinity);
    }

    /// <summary>
    /// The parameters a trainer updates (requires_grad), refusing non-fp32 ones: pure-bf16 AdamW rounds
    /// most updates away, so a bf16 base trains through fp32 LoRA adapters.
    /// </summary>
    public static List<Parameter> TrainableFp32(CausalLM model)
    {
        foreach (var (name, p) in model.named_parameters())
            if (p.requires_grad && p.dtype is not (ScalarType.Float32 or ScalarType.Float64))
                throw new NotSupportedException($"trainable parameter '{name}' is {p.dtype}: train fp32 parameters, e.g. LoRA adapters over a bf16 base");
        return model.parameters().Where(p => p.requires_grad).ToList();
    }
}

/// <summary>Seeding for reproducible runs.</summary>
internal static class Determinism
{
    /// <summary>
    /// Seeds libtorch's global generator (dropout masks, default initialisers). It is process-wide:
    /// runs are reproducible when no other thread draws from it meanwhile.
    /// </summary>
    public static void SeedGlobal(long seed) => manual_seed(seed);

    /// <summary>
    /// Seeds the global generator and returns a dedicated one for sampling, so that sampled tokens
    /// do not depend on how many dropout masks were drawn before them.
    /// </summary>
    public static Generator Seed(long seed)
    {
        SeedGlobal(seed);
        return new Generator((ulong)seed);
    }
}
