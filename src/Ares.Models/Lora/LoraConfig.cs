namespace Ares.Models.Lora;

/// <summary>
/// A LoRA adapter (Hu et al. 2021): ΔW = (α/r)·B·A on every linear layer whose last name segment
/// is in <see cref="TargetModules"/>. Field names mirror PEFT's LoraConfig (r, lora_alpha,
/// lora_dropout, target_modules) so adapter_config.json round-trips.
/// </summary>
internal sealed record LoraConfig
{
    /// <summary>Rank r of A (r × in) and B (out × r). 8–16 is PEFT's common range for 1B-class models.</summary>
    public int Rank { get; init; } = 8;
    /// <summary>α; the update is scaled by α/r, so changing r does not change the step size (the paper's rationale).</summary>
    public double Alpha { get; init; } = 16;
    /// <summary>Dropout on the adapter's input during training only.</summary>
    public double Dropout { get; init; } = 0.05;
    /// <summary>Last name segments of the linear layers to adapt: attention projections by default, as in the paper.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "k_proj", "v_proj", "o_proj"];
    /// <summary>Seeds A's Kaiming-uniform init (B starts at zero).</summary>
    public long Seed { get; init; } = 42;

    public void Validate()
    {
        if (Rank < 1) throw new ArgumentException($"LoRA rank r must be ≥ 1, got {Rank}");
        if (!(Alpha > 0) || double.IsInfinity(Alpha)) throw new ArgumentException($"LoRA alpha must be > 0 and finite, got {Alpha}");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) throw new ArgumentException($"LoRA dropout must be in [0, 1), got {Dropout}");
        if (TargetModules.Count == 0) throw new ArgumentException("LoRA needs at least one target module");
    }
}
