using Ares.Models.Lora;
using Ares.Models.Training;

namespace Ares.RedTeam.Repair;

/// <summary>How the policy is repaired against the (repaired) reward model.</summary>
internal enum PolicyRepairMethod
{
    /// <summary>On-policy RLOO (Ahmadian et al. 2024): leave-one-out baseline, KL in the reward.</summary>
    Rloo,
    /// <summary>On-policy GRPO (Shao et al. 2024): group-normalised advantages, per-token k3 KL, length-normalised loss.</summary>
    Grpo,
    /// <summary>Offline DPO (Rafailov et al. 2023) on RM-ranked samples: best vs worst of k completions per prompt.</summary>
    Dpo,
}

/// <summary>
/// Stage 2 of ARES repair (issue 4): fine-tune the policy so the repaired RM's preferences hold on
/// the adversarial prompts discovery found, while benign prompts in the mix keep its helpfulness.
/// The optimiser settings live in <see cref="Rl"/> (RLOO/GRPO) and <see cref="Dpo"/>; this record
/// decides the method, the adapter, and the prompt mix.
/// </summary>
internal sealed record PolicyRepairConfig
{
    // ---- method and model
    public PolicyRepairMethod Method { get; init; } = PolicyRepairMethod.Rloo;
    /// <summary>
    /// LoRA adapters on the policy (default): cheap, and the reference π_ref is the same weights with
    /// adapters disabled. Null = full fine-tuning against a frozen copy reloaded from the policy's source.
    /// The adapters are merged into the weights when training ends.
    /// </summary>
    public LoraConfig? Lora { get; init; } = new();

    // ---- data
    /// <summary>Share of benign prompts in the training mix; they anchor helpfulness (the RM rewards helpful answers there).</summary>
    public double BenignShare { get; init; } = 0.5;
    /// <summary>Prompts in the mix (adversarial and benign together); each pool is cycled or subsampled to its share.</summary>
    public int MixSize { get; init; } = 256;

    // ---- optimisation
    /// <summary>RLOO/GRPO settings (steps, batch, k, β, sampling). StopIds are filled from the policy's tokenizer;
    /// Method = Grpo overrides the advantage, KL placement and length normalisation.</summary>
    public PolicyRlConfig Rl { get; init; } = new() { LearningRate = 1e-4, MaxSteps = 100 };
    /// <summary>DPO settings (steps, batch, β).</summary>
    public DpoConfig Dpo { get; init; } = new() { LearningRate = 1e-4, MaxSteps = 100 };
    /// <summary>Completions sampled per prompt to rank for DPO: chosen = highest RM score, rejected = lowest.</summary>
    public int DpoSamplesPerPrompt { get; init; } = 4;
    /// <summary>Max new tokens per DPO ranking sample; the RL setting is <see cref="PolicyRlConfig.MaxNewTokens"/>.</summary>
    public int DpoMaxNewTokens { get; init; } = 64;
    /// <summary>Sampling temperature for the DPO ranking samples (&gt; 0, or all k would be identical).</summary>
    public double DpoTemperature { get; init; } = 1.0;
    /// <summary>Pairs whose chosen and rejected RM scores differ by less than this are dropped (ties teach nothing).</summary>
    public double DpoMinScoreGap { get; init; } = 1e-3;

    /// <summary>
    /// RL only: score checkpoints on validation prompts every few steps and keep the one
    /// <see cref="CheckpointSelection.Select"/> picks instead of the last. Applies when the caller passes
    /// validation prompts to <see cref="PolicyRepair.Run"/>; null = always keep the last step.
    /// </summary>
    public CheckpointSelectionConfig? Selection { get; init; }

    /// <summary>Seeds the mix and the DPO sampling; the trainers use their own configs' seeds.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>The RL config the trainer runs: <see cref="Rl"/> with the tokenizer's stop ids, and GRPO's objective when chosen.</summary>
    public PolicyRlConfig EffectiveRl(IReadOnlySet<int> stopIds) => Method == PolicyRepairMethod.Grpo
        ? Rl with { StopIds = stopIds, Advantage = AdvantageKind.Grpo, KlPenalty = KlPenalty.PerTokenK3, LengthNormalised = true }
        : Rl with { StopIds = stopIds, Advantage = AdvantageKind.Rloo };

    public void Validate()
    {
        const string n = nameof(PolicyRepairConfig);
        if (BenignShare is < 0 or >= 1 || double.IsNaN(BenignShare)) throw new ArgumentException($"{n}.{nameof(BenignShare)}: must be in [0, 1) (some adversarial prompts are needed), got {BenignShare}");
        if (MixSize < 1) throw new ArgumentException($"{n}.{nameof(MixSize)}: must be ≥ 1, got {MixSize}");
        if (DpoSamplesPerPrompt < 2) throw new ArgumentException($"{n}.{nameof(DpoSamplesPerPrompt)}: ranking needs ≥ 2 samples per prompt, got {DpoSamplesPerPrompt}");
        if (DpoMaxNewTokens < 1) throw new ArgumentException($"{n}.{nameof(DpoMaxNewTokens)}: must be ≥ 1, got {DpoMaxNewTokens}");
        if (!(DpoTemperature > 0) || double.IsInfinity(DpoTemperature)) throw new ArgumentException($"{n}.{nameof(DpoTemperature)}: must be > 0 and finite, got {DpoTemperature}");
        if (!(DpoMinScoreGap >= 0)) throw new ArgumentException($"{n}.{nameof(DpoMinScoreGap)}: must be ≥ 0, got {DpoMinScoreGap}");
        Lora?.Validate();
        Selection?.Validate();
        if (Method == PolicyRepairMethod.Dpo) Dpo.Validate();
        else EffectiveRl(new HashSet<int>()).Validate();
    }
}
