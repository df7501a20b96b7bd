using Ares.Core.Formats;
using Ares.Core.Tokenization;

namespace Ares.Models.Loading;

/// <summary>What `ares model info` shows, read from headers and metadata without loading weights.</summary>
internal sealed record ModelInfo(string Path, string Format, TransformerConfig Config, IReadOnlyDictionary<TensorDType, int> DTypes,
    long ParameterCount, string TokenizerKind, int TokenizerVocab, int? BosId, int? EosId, string ChatFormat);

internal static class ModelInspector
{
    public static ModelInfo Inspect(string path)
    {
        ITokenizer tokenizer;
        TransformerConfig config;
        IReadOnlyCollection<TensorEntry> tensors;
        string? template;
        string format;
        if (Directory.Exists(path))
        {
            config = HfModelLoader.ReadConfig(path);
            using var weights = HfModelLoader.OpenWeights(path);
            tensors = weights.Tensors.Values.ToList();
            var hf = HfTokenizer.Load(path);
            tokenizer = hf;
            template = hf.ChatTemplate;
            format = "hf";
        }
        else if (File.Exists(path))
        {
            using var g = GgufFile.Open(path);
            config = GgufModelLoader.ReadConfig(g);
            tensors = g.Tensors.Values.ToList();
            tokenizer = GgufTokenizer.FromGguf(g);
            template = g.GetString("tokenizer.chat_template");
            format = $"gguf v{g.Version}";
        }
        else throw new FileNotFoundException($"{path}: no such file or directory");
        string chat;
        try { chat = ChatTemplates.Detect(template).Family.ToString(); }
        catch (NotSupportedException e) { chat = $"unrecognised ({e.Message})"; }
        return new ModelInfo(path, format, config, tensors.GroupBy(t => t.DType).ToDictionary(x => x.Key, x => x.Count()),
            tensors.Where(t => !t.Name.StartsWith("rope_", StringComparison.Ordinal) && TensorDTypes.IsFloatingPoint(t.DType) && !HfModelLoader.IsIgnorable(t.Name, config)).Sum(t => t.ElementCount),
            tokenizer.Kind, tokenizer.VocabSize, tokenizer.BosId, tokenizer.EosId, chat);
    }
}

/// <summary>Loads only the tokenizer of a model (HF directory or GGUF), without weights.</summary>
internal static class TokenizerLoader
{
    public static ITokenizer Load(string path)
    {
        if (Directory.Exists(path)) return HfTokenizer.Load(path);
        if (File.Exists(path))
        {
            using var g = GgufFile.Open(path);
            return GgufTokenizer.FromGguf(g);
        }
        throw new FileNotFoundException($"{path}: no such file or directory (expected a Hugging Face model directory or a .gguf file)");
    }
}
