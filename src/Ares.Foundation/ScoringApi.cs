namespace Ares.Foundation;

/// <summary>The HTTP scoring APIs Ares speaks, by their config names.</summary>
internal enum ScoringApi
{
    /// <summary>vLLM <c>POST /pooling</c> (a reward model served with <c>--runner pooling</c>): the reward is the last number of the pooled output.</summary>
    VllmPooling,
    /// <summary>vLLM <c>POST /classify</c>: <c>data[0].probs</c>, one probability per label.</summary>
    VllmClassify,
    /// <summary>Hugging Face text-embeddings-inference <c>POST /predict</c>: a list of {label, score} per input.</summary>
    TeiPredict,
}

internal static class ScoringApiNames
{
    public static readonly IReadOnlyDictionary<string, ScoringApi> ByName = new Dictionary<string, ScoringApi>
    {
        ["vllm-pooling"] = ScoringApi.VllmPooling,
        ["vllm-classify"] = ScoringApi.VllmClassify,
        ["tei-predict"] = ScoringApi.TeiPredict,
    };

    public static string Name(this ScoringApi api) => ByName.First(kv => kv.Value == api).Key;

    public static string Path(this ScoringApi api) => api switch
    {
        ScoringApi.VllmPooling => "/pooling",
        ScoringApi.VllmClassify => "/classify",
        _ => "/predict",
    };
}
