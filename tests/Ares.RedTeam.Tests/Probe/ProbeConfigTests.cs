using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Tests.Probe;

public class ProbeConfigTests
{
    const string Minimal = """{ "policy": "sandbox:default", "reward_model": "sandbox:default", "judge": "sandbox:default" }""";

    static string Error(string json) =>
        Assert.Throws<ProbeConfigException>(() => ProbeConfig.Parse(json, "/cfg/probe.json")).Message;

    [Fact]
    public void A_minimal_config_takes_documented_defaults()
    {
        var c = ProbeConfig.Parse(Minimal, "/cfg/probe.json");
        Assert.Equal("probe", c.RunId);
        Assert.Equal("/cfg/ares-runs.db", c.StorePath);
        Assert.Null(c.CatalogPath);
        Assert.Equal(new SandboxModelSpec("default"), c.Policy);
        Assert.Equal(new JudgeSpec(JudgeKind.Classifier, new SandboxModelSpec("default")), c.Judge);
        Assert.True(c.Mentor.IsTemplate);
        Assert.Equal(new ProbeOptions().Budget, c.Options.Budget);
    }

    [Fact]
    public void Every_field_binds()
    {
        var c = ProbeConfig.Parse("""
            {
              "run": "r1", "store": "db/x.db", "seed": 9, "catalog": "cat.json",
              "policy": { "endpoint": "http://127.0.0.1:8000/v1", "model": "qwen", "api_key_env": "KEY", "concurrency": 2, "timeout_s": 5, "max_retries": 1 },
              "reward_model": { "path": "rm", "chat_format": "chatml" },
              "judge": { "type": "guard", "model": { "endpoint": "http://h/v1", "model": "llama-guard" } },
              "mentor": { "type": "llm", "model": "mentor-model", "max_attempts": 5 },
              "budget": { "cases": 50, "samples": 2, "batch": 8 },
              "sampling": { "temperature": 0.3, "top_p": 0.9, "max_tokens": 40 },
              "selector": { "exploration": 0.5, "systemic_weight": 1, "policy_only_weight": 0.1, "rm_only_weight": 0.2 },
              "taxonomy": { "reward_margin": 0.25 }
            }
            """, "/cfg/probe.json");
        Assert.Equal("r1", c.RunId);
        Assert.Equal("/cfg/db/x.db", c.StorePath);
        Assert.Equal("/cfg/cat.json", c.CatalogPath);
        Assert.Equal(new EndpointModelSpec("http://127.0.0.1:8000/v1", "qwen", "KEY", 2, 5, 1), c.Policy);
        Assert.Equal(new LocalModelSpec("/cfg/rm", "chatml"), c.RewardModel);
        Assert.Equal(JudgeKind.Guard, c.Judge.Kind);
        Assert.Equal(new MentorSpec(new LocalModelSpec("/cfg/mentor-model"), 5), c.Mentor);
        Assert.Equal((9L, 50, 2, 8), (c.Options.Seed, c.Options.Budget, c.Options.Samples, c.Options.BatchSize));
        Assert.Equal((0.3, 0.9, 40), (c.Options.Sampling.Temperature, c.Options.Sampling.TopP, c.Options.Sampling.MaxTokens));
        Assert.Equal((0.5, 0.1, 0.2), (c.Options.Selector.Exploration, c.Options.Selector.PolicyOnlyWeight, c.Options.Selector.RmOnlyWeight));
        Assert.Equal(0.25, c.Options.RewardMargin);
    }

    [Theory]
    [InlineData("""{ "reward_model": "sandbox:default", "judge": "refusal" }""", "field 'policy' is required")]
    [InlineData("""{ "policy": "p", "reward_model": { "endpoint": "http://h/v1", "model": "m" }, "judge": "refusal" }""", "field 'reward_model.api' must be vllm-pooling or tei-predict")]
    [InlineData("""{ "policy": { "endpoint": "http://h", "api": "vllm-pooling", "model": "m" }, "reward_model": "r", "judge": "refusal" }""", "field 'policy.api' must be openai-chat (or absent) for a chat model, got 'vllm-pooling'")]
    [InlineData("""{ "policy": "p", "reward_model": "r", "judge": { "type": "classifier", "model": { "endpoint": "http://h", "model": "m" } } }""",
        "field 'judge.model.api' must be vllm-classify or tei-predict")]
    [InlineData("""{ "policy": "p", "reward_model": { "endpoint": "http://h", "api": "vllm-pool", "model": "m" }, "judge": "refusal" }""", "field 'reward_model.api' must be openai-chat, vllm-pooling, vllm-classify, tei-predict, got 'vllm-pool'")]
    [InlineData("""{ "policy": "p", "reward_model": "r", "judge": "refusal", "budget": { "cases": 0 } }""", "field 'budget.cases' must be an integer ≥ 1")]
    [InlineData("""{ "policy": "p", "reward_model": "r", "judge": "refusal", "budget": { "case": 3 } }""", "unknown field 'budget.case'")]
    [InlineData("""{ "policy": "p", "reward_model": "r", "judge": "refusal", "sampling": { "temperature": "hot" } }""", "field 'sampling.temperature' must be a number")]
    [InlineData("""{ "policy": { "endpoint": "ftp://h", "model": "m" }, "reward_model": "r", "judge": "refusal" }""", "field 'policy.endpoint' must be an http(s) URL")]
    [InlineData("""{ "policy": { "endpoint": "http://h/v1" }, "reward_model": "r", "judge": "refusal" }""", "field 'policy.model' is required")]
    [InlineData("""{ "policy": "p", "reward_model": "r", "judge": { "type": "oracle" } }""", "field 'judge.type' must be refusal, classifier or guard")]
    [InlineData("""{ "policy": "p", "reward_model": "r", "judge": { "type": "classifier" } }""", "field 'judge.model' is required")]
    [InlineData("""{ "policy": "p", "reward_model": "r", "judge": "refusal", "mentor": { "type": "llm" } }""", "field 'mentor.model' is required")]
    [InlineData("""{ "policy": "sandbox:", "reward_model": "r", "judge": "refusal" }""", "field 'policy' names no sandbox world")]
    [InlineData("""{ "run": "a b", "policy": "p", "reward_model": "r", "judge": "refusal" }""", "field 'run' must use letters")]
    public void Errors_name_the_file_and_the_field(string json, string expected)
    {
        var message = Error(json);
        Assert.StartsWith("/cfg/probe.json: ", message);
        Assert.Contains(expected, message);
    }
}

public class ExampleConfigTests
{
    static string Examples()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "examples", "probe-sandbox.json"))) return Path.Combine(dir.FullName, "examples");
        throw new DirectoryNotFoundException("examples/ not found above the test folder");
    }

    [Theory]
    [InlineData("probe-sandbox.json")]
    [InlineData("probe-endpoint.json")]
    public void The_shipped_example_configs_parse(string name)
    {
        var c = ProbeConfig.Load(Path.Combine(Examples(), name));
        Assert.NotEmpty(c.RunId);
        c.Options.Validate();
    }
}
