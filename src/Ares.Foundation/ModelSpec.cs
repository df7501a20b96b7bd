namespace Ares.Foundation;

/// <summary>Where a model comes from, as a probe config names it.</summary>
internal abstract record ModelSpec;

/// <summary>A local HF directory or GGUF file (path resolved against the config's folder).</summary>
internal sealed record LocalModelSpec(string Path, string? ChatFormat = null) : ModelSpec;

/// <summary>A model of a sandbox world (`sandbox:NAME`): which one depends on the role (policy, reward model, judge).</summary>
internal sealed record SandboxModelSpec(string World) : ModelSpec
{
    /// <summary>$ARES_HOME/sandbox, else ~/.cache/ares/sandbox.</summary>
    public static string DefaultRoot()
    {
        var home = Environment.GetEnvironmentVariable("ARES_HOME");
        return string.IsNullOrWhiteSpace(home)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "ares", "sandbox")
            : Path.Combine(home, "sandbox");
    }
}

/// <summary>
/// A model behind an HTTP endpoint: OpenAI-compatible chat (<see cref="Api"/> null), or a scoring
/// API (vllm-pooling, vllm-classify, tei-predict) for reward models and classifier judges. The API
/// key is read from <see cref="ApiKeyEnv"/> at run time and never stored.
/// </summary>
internal sealed record EndpointModelSpec(string Url, string Model, string? ApiKeyEnv, int Concurrency, double TimeoutSeconds, int MaxRetries,
    ScoringApi? Api = null, string? HarmfulLabel = null, int? HarmfulIndex = null) : ModelSpec
{
    public EndpointOptions Options => new()
    {
        BaseUrl = Url, Model = Model, ApiKeyEnv = ApiKeyEnv, MaxConcurrency = Concurrency,
        MaxRetries = MaxRetries, RequestTimeout = TimeSpan.FromSeconds(TimeoutSeconds),
    };
}
