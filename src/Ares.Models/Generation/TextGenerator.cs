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

/// <summary>Wall-clock split of one <see cref="TextGenerator.Generate(IReadOnlyList{int[]}, GenerationOptions)"/> call.</summary>
/// <param name="PrefillSeconds">The prompt forward and the first token's sampling.</param>
/// <param name="DecodeSeconds">Every later step: a one-token forward per active row, then sampling.</param>
/// <param name="DecodeTokens">Tokens fed through decode forwards (active rows summed over steps).</param>
/// <param name="PrefillCpuSeconds">The calling thread's CPU time over the prefill (<see cref="ThreadCpuClock"/>; NaN off Linux).</param>
/// <param name="DecodeCpuSeconds">The calling thread's CPU time over the decode steps.</param>
internal sealed record GenerationTimings(int PrefillTokens, double PrefillSeconds, int DecodeSteps, int DecodeTokens, double DecodeSeconds,
    double PrefillCpuSeconds = double.NaN, double DecodeCpuSeconds = double.NaN);

/// <summary>
/// Batched sampling with a KV cache over left-padded prompts. The prompt goes through the model
/// once (prefill); each later step feeds only the token just sampled, one per active row. Rows that
/// finish are dropped from the batch (the cache is compacted) once a quarter of it has finished, so
/// long tails do not pay for stopped rows. Sampling stays over the original batch so a seed draws
/// the same random numbers whichever rows are still running.
/// </summary>
internal sealed class TextGenerator(CausalLM model, ITokenizer tokenizer)
{
    /// <summary>Timings of the last Generate call (what `ares bench generate` reports).</summary>
    public GenerationTimings? LastTimings { get; private set; }

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

    /// <param name="onToken">Called after each decode step with (prompt index, token id) for every row still
    /// running, the stop token included; an exception it throws (e.g. cancellation) ends generation.</param>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<int[]> prompts, GenerationOptions o, Action<int, int>? onToken = null)
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
        bool padded = prompts.Any(p => p.Length != promptLen);
        // Host copy of every row's tokens, left-padded: the uncached reference path re-feeds it whole.
        var idsHost = new long[b * total];
        for (int r = 0; r < b; r++)
            for (int t = 0; t < prompts[r].Length; t++) idsHost[r * total + promptLen - prompts[r].Length + t] = prompts[r][t];
        var sw = System.Diagnostics.Stopwatch.StartNew();
        double cpuStart = ThreadCpuClock.Now(), prefillSeconds = 0, prefillCpu = double.NaN;
        int decodeSteps = 0, decodeTokens = 0;

        using var noGrad = no_grad();
        using var outer = NewDisposeScope(); // every tensor of this call
        bool wasTraining = model.training;
        model.eval();
        try
        {
            // rows[i] = the original row that batch row i holds (rows are dropped as they finish).
            var rows = Enumerable.Range(0, b).ToArray();
            Tensor? valid = null, allPositions = null;                                   // (B, total), only with padding
            if (padded)
            {
                var validHost = new bool[b * total];
                for (int r = 0; r < b; r++)
                    for (int t = promptLen - prompts[r].Length; t < total; t++) validHost[r * total + t] = true;
                valid = tensor(validHost).reshape(b, total);
                allPositions = valid.to_type(ScalarType.Int64).cumsum(1).Minus(1L).ClampMin(0L);
            }
            var cache = o.UseKvCache ? model.NewCache(b, total) : null;
            var sampleLogits = o.Temperature == 0 ? null : zeros(b, model.Config.VocabSize);  // (B, V): sampling sees every original row; finished rows stay finite (zeros, never read back)
            var next = (Tensor?)null;                                                     // (B_active) ids sampled last
            try
            {
                for (int step = 0; step < o.MaxNewTokens; step++)
                {
                    using var scope = NewDisposeScope();
                    int len = promptLen + step;                                           // columns known so far
                    int from = cache is null || step == 0 ? 0 : len - 1;
                    int active = rows.Length;
                    Tensor input, pos;
                    if (from > 0) input = next!.unsqueeze(1);                             // (B, 1)
                    else
                    {
                        var host = new long[active * len];
                        for (int i = 0; i < active; i++) Array.Copy(idsHost, rows[i] * total, host, i * len, len);
                        input = tensor(host).reshape(active, len);                        // (B, T)
                    }
                    if (allPositions is not null) pos = allPositions.narrow(1, from, len - from);
                    else pos = from == 0 ? ScalarOps.Arange(len).unsqueeze(0).expand(active, len)
                        : ScalarOps.Arange(from, len).unsqueeze(0).expand(active, 1);     // (B, T_new)
                    var keyValid = valid?.narrow(1, 0, len);                              // (B, S)
                    var hidden = model.Hidden(input, pos, keyValid, cache);               // (B, T_new, d)
                    var logits = model.LmLogits(hidden.narrow(1, hidden.shape[1] - 1, 1)).squeeze(1).to_type(ScalarType.Float32); // (B, V)
                    Tensor sampled;                                                       // (B)
                    if (sampleLogits is null) sampled = logits.argmax(-1);
                    else
                    {
                        var all = active == b ? logits : sampleLogits.index_copy_(0, tensor(rows.Select(x => (long)x).ToArray()), logits);
                        sampled = Sample(all, o, generator);
                        if (active < b) sampled = sampled.index_select(0, tensor(rows.Select(x => (long)x).ToArray()));
                    }
                    var logp = logits.log_softmax(-1).gather(1, sampled.unsqueeze(1)).squeeze(1); // (B)
                    var nextHost = sampled.data<long>().ToArray();
                    var logpHost = logp.data<float>().ToArray();
                    var keep = new List<int>(active);
                    for (int i = 0; i < active; i++)
                    {
                        int r = rows[i], id = (int)nextHost[i];
                        idsHost[r * total + len] = id;
                        outIds[r].Add(id); outLogp[r].Add(logpHost[i]);
                        onToken?.Invoke(r, id);
                        if (stopIds.Contains(id)) finish[r] = "stop";
                        else if (o.StopStrings.Count > 0)
                        {
                            string text = tokenizer.Decode(outIds[r]);
                            int cut = o.StopStrings.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(x => x >= 0).DefaultIfEmpty(-1).Min();
                            if (cut >= 0) { finish[r] = "stop_string"; texts[r] = text[..cut]; }
                        }
                        if (finish[r] is null) keep.Add(i);
                    }
                    if (step == 0) (prefillSeconds, prefillCpu) = (sw.Elapsed.TotalSeconds, ThreadCpuClock.Now() - cpuStart);
                    else { decodeSteps++; decodeTokens += active; }
                    if (keep.Count == 0) break;
                    next?.Dispose();
                    // Drop finished rows once a quarter of the batch has finished (a compaction copies the cache).
                    if (keep.Count * 4 <= active * 3)
                    {
                        using var idx = tensor(keep.Select(i => (long)i).ToArray());
                        cache?.Keep(idx);
                        if (valid is not null) { valid = Compact(valid, idx); allPositions = Compact(allPositions!, idx); }
                        rows = keep.Select(i => rows[i]).ToArray();
                        next = sampled.index_select(0, idx).MoveToOuterDisposeScope();
                    }
                    else next = sampled.MoveToOuterDisposeScope();
                }
            }
            finally { cache?.Dispose(); next?.Dispose(); }
        }
        finally { model.train(wasTraining); }
        LastTimings = new GenerationTimings(b * promptLen, prefillSeconds, decodeSteps, decodeTokens, sw.Elapsed.TotalSeconds - prefillSeconds,
            prefillCpu, ThreadCpuClock.Now() - cpuStart - prefillCpu);

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

    /// <summary>Rows <paramref name="keep"/> of <paramref name="t"/>, owned by the caller's outer scope; the old tensor is disposed.</summary>
    static Tensor Compact(Tensor t, Tensor keep)
    {
        var kept = t.index_select(0, keep).MoveToOuterDisposeScope();
        t.Dispose();
        return kept;
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
