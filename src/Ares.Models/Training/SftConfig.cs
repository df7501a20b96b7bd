namespace Ares.Models.Training;

/// <summary>One supervised example: the model learns to continue <see cref="PromptIds"/> with <see cref="CompletionIds"/>.</summary>
internal sealed record SftExample(int[] PromptIds, int[] CompletionIds);

/// <summary>
/// Supervised fine-tuning (TRL's SFTTrainer on prompt–completion data): minimise the next-token
/// cross-entropy of the completion given the prompt. Defaults follow TRL/HF unless noted; the
/// optimisation and batching settings are <see cref="OptimizationConfig"/>'s (BatchSize counts sequences).
/// </summary>
internal sealed record SftConfig : OptimizationConfig
{
    /// <summary>Learning rate 2e-4 suits LoRA (PEFT's examples); use ~2e-5 for full fine-tuning (TRL's default). 8 sequences per forward (HF's per_device_train_batch_size).</summary>
    public SftConfig() : base(learningRate: 2e-4, batchSize: 8) { }

    /// <summary>Prompt + completion tokens kept per example; longer ones lose their end (TRL truncates right). Capped at the model's context.</summary>
    public int MaxLength { get; init; } = 512;

    // ---- data
    /// <summary>Loss on completion tokens only (TRL's default for prompt–completion data) or on the whole text.</summary>
    public bool CompletionOnlyLoss { get; init; } = true;

    public void Validate()
    {
        ValidateOptimization(nameof(SftConfig));
        if (MaxLength < 2) throw new ArgumentException($"{nameof(SftConfig)}.{nameof(MaxLength)}: max length must be ≥ 2 (one input and one target token), got {MaxLength}");
    }
}
