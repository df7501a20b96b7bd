namespace Ares.Foundation;

/// <summary>
/// Where and how to reach an OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server).
/// Holds the <em>name</em> of the environment variable with the API key, never the key itself,
/// so options can be printed, logged and stored with a run.
/// </summary>
internal sealed record EndpointOptions
{
    /// <summary>
    /// The server, e.g. <c>http://127.0.0.1:8000</c> or <c>http://host:11434/v1</c>; a URL that
    /// already ends in <c>/chat/completions</c> is used as is. No credentials or query string:
    /// the key goes through <see cref="ApiKeyEnv"/>.
    /// </summary>
    public required string BaseUrl { get; init; }

    /// <summary>The <c>model</c> field of each request (e.g. "Qwen/Qwen3-1.7B", "llama3.2:1b").</summary>
    public required string Model { get; init; }

    /// <summary>Environment variable holding the API key, read once at construction; null = no key (local servers).</summary>
    public string? ApiKeyEnv { get; init; }

    /// <summary>Requests in flight at once across all callers of one model: local servers queue the rest anyway.</summary>
    public int MaxConcurrency { get; init; } = 4;

    /// <summary>Retries after the first attempt; 4 rides out a server restart or a short rate-limit window.</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>Per attempt, headers and body; a 1.7B model writing 512 tokens on a busy GPU fits in 60 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>First backoff; retry r waits base·2^r with jitter (half to full) so parallel callers spread out.</summary>
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Cap on one exponential backoff.</summary>
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Cap on a server's Retry-After, so a misconfigured server cannot stall a run for hours.</summary>
    public TimeSpan RetryAfterMax { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The URL requests are POSTed to.</summary>
    public string CompletionsUrl
    {
        get
        {
            var b = BaseUrl.TrimEnd('/');
            if (b.EndsWith("/chat/completions", StringComparison.Ordinal)) return b;
            return b.EndsWith("/v1", StringComparison.Ordinal) ? b + "/chat/completions" : b + "/v1/chat/completions";
        }
    }

    /// <summary>Every problem with these options, each naming its field; empty when valid.</summary>
    public IReadOnlyList<string> Errors()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(BaseUrl))
            errors.Add("BaseUrl: must be an http(s) URL such as http://127.0.0.1:8000 (got an empty value)");
        else if (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            errors.Add($"BaseUrl: must be an absolute http(s) URL such as http://127.0.0.1:8000 (got '{BaseUrl}')");
        else
        {
            // Deliberately not echoing the URL: these parts are exactly where a secret would be.
            if (uri.UserInfo.Length > 0) errors.Add("BaseUrl: must not contain credentials (user:password@); put the key in the variable named by ApiKeyEnv");
            if (uri.Query.Length > 0 || uri.Fragment.Length > 0) errors.Add("BaseUrl: must not have a query string or fragment; put any key in the variable named by ApiKeyEnv");
        }
        if (string.IsNullOrWhiteSpace(Model)) errors.Add("Model: must be a non-empty model name");
        if (ApiKeyEnv is not null && (ApiKeyEnv.Length == 0 || !ApiKeyEnv.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')))
            errors.Add($"ApiKeyEnv: must be an environment variable name of letters, digits and '_' (got '{ApiKeyEnv}')");
        if (MaxConcurrency < 1) errors.Add($"MaxConcurrency: must be at least 1 (got {MaxConcurrency})");
        if (MaxRetries < 0) errors.Add($"MaxRetries: must be 0 or more (got {MaxRetries})");
        if (RequestTimeout <= TimeSpan.Zero) errors.Add($"RequestTimeout: must be positive (got {RequestTimeout.TotalSeconds} s)");
        if (BackoffBase < TimeSpan.Zero) errors.Add($"BackoffBase: must not be negative (got {BackoffBase.TotalSeconds} s)");
        if (BackoffMax < BackoffBase) errors.Add($"BackoffMax: must be at least BackoffBase (got {BackoffMax.TotalSeconds} s < {BackoffBase.TotalSeconds} s)");
        if (RetryAfterMax < TimeSpan.Zero) errors.Add($"RetryAfterMax: must not be negative (got {RetryAfterMax.TotalSeconds} s)");
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every invalid field.</summary>
    public void Validate()
    {
        var errors = Errors();
        if (errors.Count > 0) throw new ArgumentException("invalid endpoint options: " + string.Join("; ", errors));
    }
}
