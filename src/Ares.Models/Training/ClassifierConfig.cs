namespace Ares.Models.Training;

/// <summary>One labelled sequence: the token ids (e.g. an encoded exchange) and its class index.</summary>
internal sealed record ClassifierExample(int[] Ids, int Label);

/// <summary>
/// Sequence classification (HF's *ForSequenceClassification fine-tuning): the `score` head read at
/// the last token, trained with cross-entropy over num_labels classes. Defaults follow HF unless noted;
/// the optimisation and batching settings are <see cref="OptimizationConfig"/>'s (BatchSize counts sequences).
/// </summary>
internal sealed record ClassifierConfig : OptimizationConfig
{
    /// <summary>Learning rate 2e-4 suits LoRA; ~2e-5 for full fine-tuning of a pretrained model; higher only from scratch. 8 sequences per forward.</summary>
    public ClassifierConfig() : base(learningRate: 2e-4, batchSize: 8) { }

    /// <summary>Tokens kept per sequence; longer ones lose their end. Capped at the model's context.</summary>
    public int MaxLength { get; init; } = 512;

    public void Validate()
    {
        ValidateOptimization(nameof(ClassifierConfig));
        if (MaxLength < 1) throw new ArgumentException($"{nameof(ClassifierConfig)}.{nameof(MaxLength)}: max length must be ≥ 1, got {MaxLength}");
    }
}
