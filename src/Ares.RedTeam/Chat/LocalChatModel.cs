using Ares.Core.Tokenization;
using Ares.Models.Generation;
using Ares.Models.Loading;

namespace Ares.RedTeam.Chat;

/// <summary>
/// A chat model run in-process: a <see cref="LoadedModel"/> (HF directory or GGUF) driven by
/// <see cref="TextGenerator"/>. Every (conversation, sample) pair goes through batched generation,
/// <see cref="MaxBatchSize"/> rows at a time, in sample-major order (all conversations' sample 0,
/// then sample 1, …).
/// </summary>
/// <remarks>
/// Seeding: batch k draws from a generator seeded with <see cref="ChatSampling.Seed"/> + k, and the
/// rows of a batch draw from it in turn, so samples differ and a run repeats exactly for the same
/// conversations, sampling, sample count and batch size. A null seed samples from torch's global
/// generator (not reproducible).
/// Failures: a conversation that does not fit the context (prompt + MaxTokens) gets a
/// <see cref="ChatResult.Failure"/> naming its length; anything that goes wrong inside generation is a
/// bug, not a transient error, and propagates.
/// </remarks>
internal sealed class LocalChatModel : IChatModel
{
    readonly LoadedModel _model;
    readonly TextGenerator _generator;
    readonly IReadOnlySet<int> _stopIds;

    /// <summary>Rows per generation call; more is faster per token until memory or padding waste dominates.</summary>
    public int MaxBatchSize { get; }

    public ModelIdentity Identity { get; }

    /// <summary>Wraps <paramref name="model"/> and takes ownership: disposing this disposes it.</summary>
    public LocalChatModel(LoadedModel model, int maxBatchSize = 16)
    {
        if (maxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(maxBatchSize), $"max batch size must be ≥ 1, got {maxBatchSize}");
        if (!model.Model.HasLmHead)
            throw new ArgumentException($"{model.SourcePath}: a sequence-classification model (num_labels = {model.Config.NumLabels}) cannot be a chat model");
        _model = model;
        _generator = new TextGenerator(model.Model, model.Tokenizer);
        // The tokenizer's end-of-turn tokens plus generation_config.json's eos ids: HF's generate stops at the latter.
        var stops = new HashSet<int>(model.Tokenizer.StopIds);
        stops.UnionWith(model.GenerationDefaults?.EosTokenIds ?? []);
        _stopIds = stops;
        MaxBatchSize = maxBatchSize;
        Identity = ModelIdentity.ForLocal(model.SourcePath);
    }

    /// <summary>Loads a model (HF directory or .gguf) and wraps it.</summary>
    public static LocalChatModel Load(string path, LoadOptions? options = null, int maxBatchSize = 16)
    {
        var model = ModelLoader.Load(path, options);
        try { return new LocalChatModel(model, maxBatchSize); }
        catch { model.Dispose(); throw; }
    }

    public Task<IReadOnlyList<IReadOnlyList<ChatResult>>> CompleteAsync(
        IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, ChatSampling sampling, int samples, CancellationToken ct = default) =>
        Task.FromResult(Complete(conversations, sampling, samples, ct));

    /// <summary>
    /// The synchronous core of <see cref="CompleteAsync"/>: result[i][j] is sample j of conversation i.
    /// <paramref name="ct"/> is checked after every generated token; <paramref name="onText"/>, when given,
    /// gets (conversation, sample, text so far) after each token that is not a stop token (what
    /// <c>ares serve</c> streams).
    /// </summary>
    public IReadOnlyList<IReadOnlyList<ChatResult>> Complete(
        IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, ChatSampling sampling, int samples, CancellationToken ct = default,
        Action<int, int, string>? onText = null)
    {
        if (samples < 0) throw new ArgumentOutOfRangeException(nameof(samples), $"samples must be ≥ 0, got {samples}");
        var options = new GenerationOptions
        {
            MaxNewTokens = sampling.MaxTokens, Temperature = sampling.Temperature, TopP = sampling.TopP, StopIds = _stopIds,
        };
        options.Validate(); // misconfiguration is reported before any generation

        var results = new ChatResult[conversations.Count][];
        var prompts = new int[]?[conversations.Count];
        int context = _model.Config.MaxSequenceLength;
        for (int i = 0; i < conversations.Count; i++)
        {
            results[i] = new ChatResult[samples];
            var ids = _model.EncodeChat(conversations[i]);
            string? why = ids.Length == 0 ? "the conversation encodes to no tokens"
                : ids.Length + sampling.MaxTokens > context
                    ? $"prompt ({ids.Length} tokens) + max tokens ({sampling.MaxTokens}) exceeds the model's context of {context}"
                    : null;
            if (why is null) prompts[i] = ids;
            else Array.Fill(results[i], ChatResult.Failure(why));
        }

        var rows = new List<(int Conversation, int Sample)>();
        for (int j = 0; j < samples; j++)
            for (int i = 0; i < conversations.Count; i++)
                if (prompts[i] is not null) rows.Add((i, j));

        int batchIndex = 0;
        foreach (var batch in rows.Chunk(MaxBatchSize))
        {
            ct.ThrowIfCancellationRequested();
            var o = options with { Seed = sampling.Seed is long s ? s + batchIndex : null };
            var soFar = batch.Select(_ => new List<int>()).ToArray();
            Action<int, int>? onToken = onText is null && !ct.CanBeCanceled ? null : (k, id) =>
            {
                ct.ThrowIfCancellationRequested();
                if (onText is null || _stopIds.Contains(id)) return;
                soFar[k].Add(id);
                onText(batch[k].Conversation, batch[k].Sample, _model.Tokenizer.Decode(soFar[k]));
            };
            var generated = _generator.Generate(batch.Select(r => prompts[r.Conversation]!).ToList(), o, onToken);
            for (int k = 0; k < batch.Length; k++)
                results[batch[k].Conversation][batch[k].Sample] = ChatResult.Success(generated[k].Text, generated[k].FinishReason);
            batchIndex++;
        }
        return results;
    }

    public void Dispose() => _model.Dispose();
}
