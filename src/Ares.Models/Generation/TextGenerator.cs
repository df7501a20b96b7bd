using Ares.Core.Tokenization;
using Ares.Models.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Generation;

/// <summary>How to sample. Temperature 0 is greedy decoding.</summary>
internal sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 128;
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p (1 = off).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Token ids that end a sequence; null = the tokenizer's <see cref="ITokenizer.StopIds"/>.</summary>
    public IReadOnlySet<int>? StopIds { get; init; }
    /// <summary>Strings that end a sequence; the text is cut before them.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public long? Seed { get; init; }
    /// <summary>Reuse keys/values across steps (always on in practice; off only to prove parity).</summary>
    public bool UseKvCache { get; init; } = true;

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentException($"max new tokens must be ≥ 0, got {MaxNewTokens}");
        if (Temperature < 0 || double.IsNaN(Temperature)) throw new ArgumentException($"temperature must be ≥ 0, got {Temperature}");
        if (TopK < 0) throw new ArgumentException($"top-k must be ≥ 0, got {TopK}");
        if (TopP is <= 0 or > 1) throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
    }
}

/// <summary>
/// One generated continuation. <see cref="TokenIds"/> and <see cref="LogProbs"/> include a final stop
/// token if one ended the sequence; <see cref="Text"/> excludes it (and anything from a stop string on).
/// LogProbs are under the model's own distribution (temperature 1, no truncation), whatever the
/// sampling settings — the quantity KL penalties and GFlowNet objectives need.
/// </summary>
internal sealed record GenerationResult(string Text, int[] TokenIds, float[] LogProbs, string FinishReason);

/// <summary>Batched sampling with a KV cache over left-padded prompts.</summary>
internal sealed class TextGenerator(CausalLM model, ITokenizer tokenizer)
{
    /// <summary>Encodes each prompt (with the tokenizer's special tokens, e.g. BOS) and generates.</summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<string> prompts, GenerationOptions options) =>
        Generate(prompts.Select(p => PromptIds(p)).ToList(), options);

    /// <summary>Prompt ids; an empty prompt becomes BOS alone.</summary>
    public int[] PromptIds(string prompt)
    {
        var ids = tokenizer.Encode(prompt, addSpecialTokens: true);
        if (ids.Length > 0) return ids;
        return tokenizer.BosId is int bos ? [bos]
            : throw new ArgumentException("the prompt is empty and this model's tokenizer has no BOS token to start from");
    }

    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<int[]> prompts, GenerationOptions o)
    {
        o.Validate();
        if (prompts.Count == 0) return [];
        if (!model.HasLmHead) throw new InvalidOperationException("a sequence-classification model cannot generate text");
        int b = prompts.Count, promptLen = prompts.Max(p => p.Length);
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("every prompt needs at least one token");
        int total = promptLen + o.MaxNewTokens;
        if (total > model.Config.MaxSequenceLength)
            throw new ArgumentException($"prompt ({promptLen} tokens) + max new tokens ({o.MaxNewTokens}) exceeds the model's context of {model.Config.MaxSequenceLength}");
        var stopIds = o.StopIds ?? tokenizer.StopIds;
        var generator = o.Seed is long seed ? new Generator((ulong)seed) : null;
        var outIds = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var outLogp = Enumerable.Range(0, b).Select(_ => new List<float>()).ToArray();
        var finish = new string?[b];
        var texts = new string?[b];

        using var noGrad = no_grad();
        using var outer = NewDisposeScope(); // every tensor of this call, including the growing sequence
        bool wasTraining = model.training;
        model.eval();
        try
        {
            // Left-pad so every row's last prompt token sits at column promptLen − 1.
            var idsHost = new long[b * promptLen];
            var validHost = new bool[b * total];
            for (int r = 0; r < b; r++)
            {
                int pad = promptLen - prompts[r].Length;
                for (int t = 0; t < prompts[r].Length; t++) idsHost[r * promptLen + pad + t] = prompts[r][t];
                for (int t = pad; t < total; t++) validHost[r * total + t] = true;
            }
            var valid = tensor(validHost).reshape(b, total);                            // (B, total)
            var allPositions = valid.to_type(ScalarType.Int64).cumsum(1).Minus(1L).ClampMin(0L); // (B, total)
            var sequence = tensor(idsHost).reshape(b, promptLen);                       // (B, T) grows
            using var cache = o.UseKvCache ? model.NewCache(b, total) : null;
            int fed = 0; // columns already in the cache
            try
            {
                for (int step = 0; step < o.MaxNewTokens && finish.Any(f => f is null); step++)
                {
                    using var scope = NewDisposeScope();
                    int len = (int)sequence.shape[1];
                    int from = cache is null ? 0 : fed;
                    var input = sequence.narrow(1, from, len - from);                    // (B, T_new)
                    var pos = allPositions.narrow(1, from, len - from);
                    var keyValid = valid.narrow(1, 0, len);                              // (B, S)
                    var hidden = model.Hidden(input, pos, keyValid, cache);              // (B, T_new, d)
                    fed = len;
                    var logits = model.LmLogits(hidden.narrow(1, hidden.shape[1] - 1, 1)).squeeze(1).to_type(ScalarType.Float32); // (B, V)
                    var next = Sample(logits, o, generator);                             // (B)
                    var logp = logits.log_softmax(-1).gather(1, next.unsqueeze(1)).squeeze(1); // (B)
                    var nextHost = next.data<long>().ToArray();
                    var logpHost = logp.data<float>().ToArray();
                    for (int r = 0; r < b; r++)
                    {
                        if (finish[r] is not null) continue;
                        int id = (int)nextHost[r];
                        outIds[r].Add(id); outLogp[r].Add(logpHost[r]);
                        if (stopIds.Contains(id)) { finish[r] = "stop"; continue; }
                        if (o.StopStrings.Count > 0)
                        {
                            string text = tokenizer.Decode(outIds[r]);
                            int cut = o.StopStrings.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
                            if (cut >= 0) { finish[r] = "stop_string"; texts[r] = text[..cut]; }
                        }
                    }
                    var grown = cat([sequence, next.unsqueeze(1)], 1);                   // (B, T + 1)
                    sequence.Dispose();
                    sequence = grown.MoveToOuterDisposeScope();
                }
            }
            finally { sequence.Dispose(); }
        }
        finally { model.train(wasTraining); }

        var results = new GenerationResult[b];
        for (int r = 0; r < b; r++)
        {
            var ids = outIds[r];
            string reason = finish[r] ?? "length";
            string text = texts[r] ?? tokenizer.Decode(reason == "stop" ? ids.Take(ids.Count - 1).ToList() : ids);
            results[r] = new GenerationResult(text, ids.ToArray(), outLogp[r].ToArray(), reason);
        }
        return results;
    }

    /// <summary>Picks the next token per row from fp32 logits (B, V): greedy at T = 0, else temperature, top-k, top-p.</summary>
    internal static Tensor Sample(Tensor logits, GenerationOptions o, Generator? generator)
    {
        if (o.Temperature == 0) return logits.argmax(-1);                                // (B)
        using var scope = NewDisposeScope();
        var scaled = logits.DividedBy(o.Temperature);
        if (o.TopK > 0 && o.TopK < scaled.shape[1])
        {
            var kth = scaled.topk(o.TopK, dim: -1).values.narrow(1, o.TopK - 1, 1);     // (B, 1)
            scaled = scaled.MaskedFill(scaled < kth, double.NegativeInfinity);
        }
        if (o.TopP < 1)
        {
            var (sorted, order) = scaled.sort(-1, descending: true);                      // (B, V)
            var cumulative = sorted.softmax(-1).cumsum(-1);
            // Drop a token if the tokens before it already reach p (so the first always stays).
            var drop = (cumulative - sorted.softmax(-1)).AtLeast(o.TopP);
            var dropOriginal = zeros_like(drop).scatter(1, order, drop);
            scaled = scaled.MaskedFill(dropOriginal, double.NegativeInfinity);
        }
        var probs = scaled.softmax(-1);
        return multinomial(probs, 1, generator: generator).squeeze(1).MoveToOuterDisposeScope(); // (B)
    }
}
