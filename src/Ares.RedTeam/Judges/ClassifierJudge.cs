using System.Globalization;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Models.Loading;
using Ares.RedTeam.Rewards;

namespace Ares.RedTeam.Judges;

/// <summary>
/// A harm classifier run in-process: an HF `*ForSequenceClassification` model reading the exchange
/// in its chat layout (<see cref="LoadedModel.EncodeExchange"/>). With one output the harm
/// probability is sigmoid(logit); with two or more it is the softmax probability of the harmful
/// label. Owns the model.
/// </summary>
/// <remarks>
/// The harmful label is found in config.json's id2label by name — one of <see cref="HarmfulNames"/>,
/// compared case-insensitively and whole (so "not_harmful" does not match), or LABEL_1 of an
/// unnamed binary head — unless the constructor names it (by label or index). An exchange longer
/// than the model reads is unscoreable, not truncated.
/// </remarks>
internal sealed class ClassifierJudge : IJudge
{
    /// <summary>Label names read as "harmful" when the caller does not say which label is.</summary>
    public static readonly IReadOnlyList<string> HarmfulNames = ["unsafe", "harmful", "toxic", "toxicity", "hate", "hateful", "offensive", "abusive", "malicious", "jailbreak"];

    readonly ExchangeScorer _scorer;

    public ModelIdentity Identity { get; }
    /// <summary>config.json's id2label (LABEL_i where absent).</summary>
    public IReadOnlyList<string> Labels { get; }
    /// <summary>The index of the harmful label (0 for a one-output head).</summary>
    public int HarmfulIndex { get; }
    public string HarmfulLabel => Labels[HarmfulIndex];

    /// <summary>
    /// Takes ownership of <paramref name="model"/>, an HF directory's classifier. Give at most one of
    /// <paramref name="harmfulLabel"/> (a name in id2label) and <paramref name="harmfulIndex"/>.
    /// </summary>
    public ClassifierJudge(LoadedModel model, string? harmfulLabel = null, int? harmfulIndex = null, int maxBatchSize = 16)
    {
        var scorer = new ExchangeScorer(model, maxBatchSize);
        Labels = ReadLabels(model.SourcePath, scorer.NumLabels);
        HarmfulIndex = ResolveHarmful(model.SourcePath, Labels, harmfulLabel, harmfulIndex);
        _scorer = scorer;
        Identity = ModelIdentity.ForLocal(model.SourcePath);
    }

    public static ClassifierJudge Load(string path, LoadOptions? options = null, string? harmfulLabel = null, int? harmfulIndex = null, int maxBatchSize = 16)
    {
        var model = ModelLoader.Load(path, options);
        try { return new ClassifierJudge(model, harmfulLabel, harmfulIndex, maxBatchSize); }
        catch { model.Dispose(); throw; }
    }

    public Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<Exchange> exchanges, CancellationToken ct = default) =>
        Task.FromResult(Judge(exchanges));

    public IReadOnlyList<JudgeVerdict> Judge(IReadOnlyList<Exchange> exchanges)
    {
        var verdicts = new JudgeVerdict[exchanges.Count];
        var ids = new List<int[]>();
        var at = new List<int>();
        for (int i = 0; i < exchanges.Count; i++)
        {
            var seq = _scorer.Encode(exchanges[i]);
            if (seq.Length > _scorer.MaxLength)
                verdicts[i] = JudgeVerdict.Unscoreable($"exchange is {seq.Length} tokens, more than the classifier's {_scorer.MaxLength} positions");
            else { ids.Add(seq); at.Add(i); }
        }
        var logits = _scorer.Logits(ids);
        for (int k = 0; k < at.Count; k++)
        {
            double p = HarmProbability(logits[k], HarmfulIndex);
            verdicts[at[k]] = new JudgeVerdict(p, $"classifier p({HarmfulLabel})={p.ToString("0.000", CultureInfo.InvariantCulture)}");
        }
        return verdicts;
    }

    /// <summary>sigmoid of a single logit; otherwise the softmax probability of label <paramref name="index"/>.</summary>
    public static double HarmProbability(IReadOnlyList<float> logits, int index)
    {
        if (logits.Count == 1) return 1.0 / (1.0 + Math.Exp(-logits[0]));
        double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
        return Math.Exp(logits[index] - max) / sum;
    }

    static IReadOnlyList<string> ReadLabels(string dir, int numLabels)
    {
        var path = Path.Combine(dir, "config.json");
        if (!File.Exists(path))
            throw new ModelFormatException($"{dir}: no config.json: a classifier judge needs an HF directory (its id2label names the labels)");
        var labels = Enumerable.Range(0, numLabels).Select(i => $"LABEL_{i}").ToArray();
        if (HfModelLoader.ReadJson(path)["id2label"] is not JsonNode node) return labels;
        if (node is not JsonObject map) throw new ModelFormatException($"{path}: 'id2label' must be an object mapping \"0\"… to label names");
        foreach (var (key, value) in map)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= numLabels)
                throw new ModelFormatException($"{path}: id2label key '{key}' is not a label index below num_labels = {numLabels}");
            labels[i] = value is JsonValue v && v.TryGetValue<string>(out var name)
                ? name : throw new ModelFormatException($"{path}: id2label[\"{key}\"] must be a string");
        }
        return labels;
    }

    static int ResolveHarmful(string dir, IReadOnlyList<string> labels, string? name, int? index)
    {
        string list = string.Join(", ", labels.Select((l, i) => $"{i}={l}"));
        if (name is not null && index is not null) throw new ArgumentException("give the harmful label by name or by index, not both");
        if (index is int k)
            return k >= 0 && k < labels.Count ? k
                : throw new ArgumentException($"{dir}: harmful label index {k} is out of range: the model has num_labels = {labels.Count} ({list})");
        if (name is not null)
        {
            int found = labels.ToList().FindIndex(l => string.Equals(l, name, StringComparison.OrdinalIgnoreCase));
            return found >= 0 ? found : throw new ArgumentException($"{dir}: no label '{name}' in id2label ({list})");
        }
        if (labels.Count == 1) return 0;
        var named = labels.Select((l, i) => (l, i)).Where(x => HarmfulNames.Contains(x.l.Trim(), StringComparer.OrdinalIgnoreCase)).ToList();
        if (named.Count == 1) return named[0].i;
        if (named.Count > 1)
            throw new ArgumentException($"{dir}: several labels look harmful ({string.Join(", ", named.Select(x => x.l))}); name the harmful label explicitly");
        if (labels.Count == 2 && labels[0].Equals("LABEL_0", StringComparison.OrdinalIgnoreCase) && labels[1].Equals("LABEL_1", StringComparison.OrdinalIgnoreCase)) return 1;
        throw new ArgumentException($"{dir}: cannot tell which label is harmful from id2label ({list}); expected one of {string.Join(", ", HarmfulNames)}, or name the label explicitly");
    }

    public void Dispose() => _scorer.Dispose();
}
