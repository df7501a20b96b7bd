using Ares.Core.Formats;
using Ares.Core.Tokenization;
using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Loading;

/// <summary>How to load: compute dtype and an explicit chat format (else recognised from the chat template).</summary>
internal sealed record LoadOptions
{
    /// <summary>Float32 (default) or BFloat16. fp16 has no fast CPU path and is refused.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    /// <summary>chatml, llama3, llama2, mistral, phi3 or plain; null = recognise from the model's chat_template.</summary>
    public string? ChatFormat { get; init; }
}

/// <summary>A model ready to use: the network, its tokenizer and where it came from.</summary>
internal sealed class LoadedModel : IDisposable
{
    public required CausalLM Model { get; init; }
    public required ITokenizer Tokenizer { get; init; }
    public required string SourcePath { get; init; }
    /// <summary>"hf" (a Hugging Face directory) or "gguf".</summary>
    public required string SourceFormat { get; init; }
    /// <summary>Element types of the checkpoint's tensors with their counts, e.g. {F32: 57}.</summary>
    public required IReadOnlyDictionary<TensorDType, int> CheckpointDTypes { get; init; }
    public string? ChatTemplate { get; init; }
    public GenerationDefaults? GenerationDefaults { get; init; }
    /// <summary>An explicit chat format (LoadOptions.ChatFormat) that overrides the template.</summary>
    public string? ChatFormatOverride { get; init; }

    /// <summary>The chat layout: the explicit override, else recognised from the chat template (NotSupportedException if unrecognised).</summary>
    public ChatTemplate ResolveChatTemplate() =>
        ChatFormatOverride is string name ? ChatTemplates.Parse(name) : ChatTemplates.Detect(ChatTemplate);

    /// <summary>Ids of a chat prompt: the template writes BOS text itself, so special tokens are not added again.</summary>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages)
    {
        var template = ResolveChatTemplate();
        return Tokenizer.Encode(template.Format(messages, addGenerationPrompt: true), addSpecialTokens: template.Family == ChatFormat.Plain);
    }

    /// <summary>
    /// Ids of a whole exchange (user prompt, assistant response) as a reward model or classifier
    /// reads it: the chat layout without a generation prompt. Training and scoring both use this.
    /// </summary>
    public int[] EncodeExchange(string prompt, string response) =>
        ChatEncoding.Exchange(Tokenizer, ResolveChatTemplate(), prompt, response);

    public TransformerConfig Config => Model.Config;
    public long ParameterCount => Model.parameters().Sum(p => p.numel());

    public void Dispose() => Model.Dispose();
}

/// <summary>The one place prompts and exchanges become ids, shared by training and inference.</summary>
internal static class ChatEncoding
{
    /// <summary>A single-turn user prompt followed by the assistant's turn opener.</summary>
    public static int[] Prompt(ITokenizer tokenizer, ChatTemplate template, string prompt) =>
        tokenizer.Encode(template.Format([new ChatMessage("user", prompt)], addGenerationPrompt: true), addSpecialTokens: template.Family == ChatFormat.Plain);

    /// <summary>(user prompt, assistant response) in the chat layout, without a generation prompt.</summary>
    public static int[] Exchange(ITokenizer tokenizer, ChatTemplate template, string prompt, string response) =>
        tokenizer.Encode(template.Format([new ChatMessage("user", prompt), new ChatMessage("assistant", response)], addGenerationPrompt: false),
            addSpecialTokens: template.Family == ChatFormat.Plain);
}

/// <summary>Entry point: loads an HF directory or a .gguf file, whichever the path is.</summary>
internal static class ModelLoader
{
    public static LoadedModel Load(string path, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        if (options.DType is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new NotSupportedException($"compute dtype {options.DType} is not supported on CPU: use float32 or bfloat16");
        if (Directory.Exists(path)) return LoadHf(path, options);
        if (File.Exists(path))
        {
            if (Path.GetFileName(path) == "config.json") return LoadHf(Path.GetDirectoryName(Path.GetFullPath(path))!, options);
            return LoadGguf(path, options);
        }
        throw new FileNotFoundException($"{path}: no such file or directory (expected a Hugging Face model directory or a .gguf file)");
    }

    static LoadedModel LoadHf(string dir, LoadOptions options)
    {
        var config = HfModelLoader.ReadConfig(dir);
        if (!File.Exists(Path.Combine(dir, "tokenizer.json")))
            throw new ModelFormatException($"{dir}: no tokenizer.json (Ares reads Hugging Face fast-tokenizer files; tokenizer.model alone is not supported)");
        var tokenizer = HfTokenizer.Load(dir);
        using var weights = HfModelLoader.OpenWeights(dir);
        var model = HfModelLoader.Load(weights, config, options.DType, dir);
        return new LoadedModel
        {
            Model = model, Tokenizer = tokenizer, SourcePath = dir, SourceFormat = "hf",
            CheckpointDTypes = CountDTypes(weights.Tensors.Values),
            ChatTemplate = tokenizer.ChatTemplate,
            GenerationDefaults = HfModelLoader.ReadGenerationDefaults(dir),
            ChatFormatOverride = options.ChatFormat,
        };
    }

    static LoadedModel LoadGguf(string path, LoadOptions options)
    {
        using var g = GgufFile.Open(path);
        var config = GgufModelLoader.ReadConfig(g);
        var tokenizer = GgufTokenizer.FromGguf(g);
        var model = GgufModelLoader.Load(g, config, options.DType);
        return new LoadedModel
        {
            Model = model, Tokenizer = tokenizer, SourcePath = path, SourceFormat = "gguf",
            CheckpointDTypes = CountDTypes(g.Tensors.Values),
            ChatTemplate = g.GetString("tokenizer.chat_template"),
            ChatFormatOverride = options.ChatFormat,
        };
    }

    static Dictionary<TensorDType, int> CountDTypes(IEnumerable<TensorEntry> entries) =>
        entries.GroupBy(e => e.DType).ToDictionary(x => x.Key, x => x.Count());
}
