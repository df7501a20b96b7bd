using Ares.RedTeam.Attack;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Tests.Attack;

public class AttackConfigTests
{
    static string Example()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "examples", "attack-sandbox.json"))) return Path.Combine(dir.FullName, "examples", "attack-sandbox.json");
        throw new DirectoryNotFoundException("examples/attack-sandbox.json not found above the test folder");
    }

    [Fact]
    public void The_shipped_sandbox_example_parses_into_the_paper_settings_it_names()
    {
        var c = AttackConfig.Load(Example());
        Assert.Equal("default", c.Sandbox);
        Assert.EndsWith(Path.Combine("runs", "attack-sandbox"), c.OutDir);
        Assert.Equal(40, c.Gfn.Training.MaxSteps);
        Assert.Equal(40, c.Reinforce.Training.MaxSteps);                                   // same step budget
        Assert.Equal(8, c.Reinforce.Training.BatchSize * c.Reinforce.Training.CompletionsPerPrompt);   // same prompts per step
        Assert.Equal(0.1, c.Gfn.Training.Beta);
        Assert.Equal((1.0, 1.2), (c.Gfn.Training.GammaStart, c.Gfn.Training.GammaEnd));
        Assert.Equal((2.0, 1.0), (c.Gfn.Training.RewardTemperatureStart, c.Gfn.Training.RewardTemperatureEnd));
        Assert.Equal(0.4, c.Gfn.Training.BufferSimilarity);    // the paper's threshold, for the MiniLM sentence encoder
        Assert.Equal(BufferEmbedding.MiniLm, c.Gfn.BufferEmbedder);
        Assert.Null(c.Eval.Embedder);                            // diversity: MiniLM too
        Assert.Equal(2, c.ResponsesPerPrompt);
        Assert.Equal(0.7, c.Smoothing.MinHarm);
        c.Gfn.Training.Validate();
        c.Reinforce.Training.Validate();
    }

    [Theory]
    [InlineData("""{ "out": "o", "sandbox": "default", "train": { "stepz": 3 } }""", "unknown field 'train.stepz'")]
    [InlineData("""{ "out": "o", "sandbox": "default", "reward": { "beta": -1 } }""", "field 'reward.beta' must be a number")]
    [InlineData("""{ "out": "o", "sandbox": "default", "exploration": { "replay_probability": 2 } }""", "exploration.replay_probability")]
    [InlineData("""{ "out": "o", "sandbox": "default", "prompts": { "min_tokens": 9, "max_tokens": 4 } }""", "GflowNetConfig.MaxTokens")]
    [InlineData("""{ "sandbox": "default" }""", "field 'out' is required")]
    [InlineData("""{ "out": "o", "target": "t" }""", "give either 'sandbox'")]
    [InlineData("""[1]""", "expected a JSON object")]
    [InlineData("""{ "out": "o", "sandbox": "default", "buffer": { "embedder": "bert" } }""", "field 'buffer.embedder' must be minilm or attacker, got 'bert'")]
    [InlineData("""{ "out": "o", "sandbox": "default", "targets": "x" }""", "field 'targets' must be an array")]
    [InlineData("""{ "out": "o", "sandbox": "default", "targets": ["a", 3] }""", "field 'targets[1]' must be a path, \"sandbox:NAME\"")]
    [InlineData("""{ "out": "o", "sandbox": "default", "targets": ["sandbox:"] }""", "field 'targets[0]' names no sandbox world")]
    [InlineData("""{ "out": "o", "sandbox": "default", "targets": ["p", "p"] }""", "field 'targets' names")]
    [InlineData("""{ "out": "o", "sandbox": "default", "attacker": { "base": { "endpoint": "http://h:1/v1", "model": "m" } } }""", "field 'attacker.base' is an endpoint; the attacker is trained")]
    [InlineData("""{ "out": "o", "sandbox": "default", "target": { "endpoint": "ftp://h", "model": "m" } }""", "field 'target.endpoint' must be an http(s) URL")]
    [InlineData("""{ "out": "o", "sandbox": "default", "target": { "endpoint": "http://h:1/v1" } }""", "field 'target.model' is required with an endpoint")]
    [InlineData("""{ "out": "o", "sandbox": "default", "target": { "endpoint": "http://h:1", "model": "m", "api": "vllm-pooling" } }""", "field 'target.api' must be openai-chat")]
    [InlineData("""{ "out": "o", "sandbox": "default", "judge": { "endpoint": "http://h:1", "model": "m", "api": "vllm-pooling" } }""", "field 'judge.api' must be vllm-classify or tei-predict")]
    [InlineData("""{ "out": "o", "sandbox": "default", "eval": { "embedder": { "endpoint": "http://h:1", "model": "m" } } }""", "field 'eval.embedder' is an endpoint")]
    [InlineData("""{ "out": "o", "sandbox": "default", "eval": { "promptz": 3 } }""", "unknown field 'eval.promptz'")]
    [InlineData("""{ "out": "o", "sandbox": "default", "eval": { "prompts": 1 } }""", "field 'eval.prompts' must be an integer ≥ 2")]
    [InlineData("""{ "out": "o", "sandbox": "default", "safety_tune": { "benign_shar": 0.5 } }""", "field 'safety_tune.benign_shar' does not bind")]
    [InlineData("""{ "out": "o", "sandbox": "default", "safety_tune": { "sft": { "max_stepz": 5 } } }""", "field 'safety_tune.sft")]
    [InlineData("""{ "out": "o", "sandbox": "default", "safety_tune": { "benign_share": 1.5 } }""", "SafetyTuningOptions.BenignShare")]
    public void Malformed_configs_name_the_file_and_the_field(string json, string expected)
    {
        var e = Assert.Throws<AttackConfigException>(() => AttackConfig.Parse(json, "/cfg/attack.json"));
        Assert.StartsWith("/cfg/attack.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Eval_targets_and_safety_tune_sections_bind()
    {
        var c = AttackConfig.Parse("""
            { "out": "o", "sandbox": "default", "reward": { "k": 3 },
              "eval": { "prompts": 64, "few_shot_examples": 4, "embedder": "emb", "seed": 5 },
              "targets": ["other/policy", "sandbox:small"],
              "safety_tune": { "benign_share": 0.25, "success_threshold": 0.6, "lora": { "rank": 4, "alpha": 8, "dropout": 0.0 }, "sft": { "max_steps": 7, "learning_rate": 0.001, "batch_size": 4 } } }
            """, "/cfg/attack.json");
        Assert.Equal((64, 3, 4, 5L), (c.Eval.Prompts, c.Eval.ResponsesPerPrompt, c.Eval.FewShotExamples, c.Eval.Seed));   // k defaults to reward.k
        Assert.Equal(Path.GetFullPath("/cfg/emb"), c.Eval.Embedder);
        Assert.Equal([Path.GetFullPath("/cfg/other/policy"), "sandbox:small"], c.Targets.Select(t => t.Name));
        Assert.Equal([new LocalModelSpec(Path.GetFullPath("/cfg/other/policy")), new SandboxModelSpec("small")], c.Targets.Select(t => t.Model));
        Assert.Equal((0.25, 0.6, 4, 7, 4), (c.SafetyTune.BenignShare, c.SafetyTune.SuccessThreshold, c.SafetyTune.Lora!.Rank, c.SafetyTune.Sft.MaxSteps, c.SafetyTune.Sft.BatchSize));

        var d = AttackConfig.Parse("""{ "out": "o", "sandbox": "default", "seed": 2 }""", "/cfg/attack.json");
        Assert.Equal((128, 5, 3, 19L, null), (d.Eval.Prompts, d.Eval.ResponsesPerPrompt, d.Eval.FewShotExamples, d.Eval.Seed, d.Eval.Embedder));
        Assert.Empty(d.Targets);
        Assert.Equal(new SafetyTuningOptions().Sft, d.SafetyTune.Sft);
    }
}

/// <summary>Attacker, target, judge, transfer targets and embedder are named by the probe configs' model spec, read by its reader.</summary>
public class AttackModelSpecTests
{
    [Fact]
    public void Every_attack_model_accepts_a_path_a_sandbox_world_or_an_endpoint_object()
    {
        var c = AttackConfig.Parse("""
            { "out": "o", "attacker": { "base": "sandbox:default", "seeds": "seeds.jsonl" },
              "target": { "endpoint": "http://gpu:8000/v1", "model": "llama", "api_key_env": "TARGET_KEY", "concurrency": 2 },
              "judge": { "endpoint": "http://gpu:8001", "model": "guard", "api": "vllm-classify", "harmful_label": "unsafe" },
              "targets": ["sandbox:small", { "endpoint": "http://other:8000/v1", "model": "qwen" }, { "path": "m.gguf", "chat_format": "chatml" }],
              "eval": { "embedder": "sandbox:default" } }
            """, "/cfg/attack.json");
        Assert.Equal(new SandboxModelSpec("default"), c.AttackerBase);
        Assert.Equal(new EndpointModelSpec("http://gpu:8000/v1", "llama", "TARGET_KEY", 2, 60, 4), c.Target);
        Assert.Equal(new JudgeSpec(JudgeKind.Classifier, new EndpointModelSpec("http://gpu:8001", "guard", null, 4, 60, 4, ScoringApi.VllmClassify, "unsafe")), c.Judge);
        Assert.Equal(["sandbox:small", "qwen @ http://other:8000/v1", Path.GetFullPath("/cfg/m.gguf")], c.Targets.Select(t => t.Name));
        Assert.Equal(new LocalModelSpec(Path.GetFullPath("/cfg/m.gguf"), "chatml"), c.Targets[2].Model);
        Assert.Equal("sandbox:default", c.Eval.Embedder);

        // A chat endpoint as the judge is a guard (its verdict is read from the reply); a probe-style judge object binds as in a probe config.
        var g = AttackConfig.Parse("""{ "out": "o", "sandbox": "default", "judge": { "endpoint": "http://g:1/v1", "model": "llama-guard" } }""", "/cfg/attack.json");
        Assert.Equal(JudgeKind.Guard, g.Judge!.Kind);
        var p = AttackConfig.Parse("""{ "out": "o", "sandbox": "default", "judge": { "type": "classifier", "model": "judge-dir" } }""", "/cfg/attack.json");
        Assert.Equal(new JudgeSpec(JudgeKind.Classifier, new LocalModelSpec(Path.GetFullPath("/cfg/judge-dir"))), p.Judge);
        var r = AttackConfig.Parse("""{ "out": "o", "sandbox": "default", "judge": "refusal", "target": "t" }""", "/cfg/attack.json");
        Assert.Equal((JudgeKind.Refusal, new LocalModelSpec(Path.GetFullPath("/cfg/t"))), (r.Judge!.Kind, r.Target));
    }
}

/// <summary>Resuming an attack stage continues its latest run only under the config that run started with.</summary>
public class AttackRunResumeTests
{
    [Fact]
    public void Resume_continues_the_latest_run_under_the_same_config_and_refuses_a_changed_one()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("seeds.jsonl"), "{\"prompt\": \"seed\"}\n");
        var c = AttackConfig.Parse("""{ "out": "run", "sandbox": "default", "run": "demo" }""", dir.File("attack.json"));
        var who = new AttackProvenance(ModelIdentity.BuiltIn("policy", "1"), ModelIdentity.BuiltIn("judge", "1"), ModelIdentity.BuiltIn("sft", "1"), dir.File("seeds.jsonl"));
        using var store = Ares.RedTeam.Store.RunStore.Open(c.StorePath);
        string first = AttackRuns.Begin(store, c, "gfn", who, 3);
        Assert.Equal(first, AttackRuns.Begin(store, c, "gfn", who, 3, continueLatest: true));

        var changed = AttackConfig.Parse("""{ "out": "run", "sandbox": "default", "run": "demo", "seed": 7 }""", dir.File("attack.json"));
        var e = Assert.Throws<AttackConfigException>(() => AttackRuns.Begin(store, changed, "gfn", who, 3, continueLatest: true));
        Assert.Contains("cannot resume run 'demo.gfn.1'", e.Message);
        Assert.Contains("attack.json", e.Message);
        Assert.Equal("demo.gfn.2", AttackRuns.Begin(store, changed, "gfn", who, 3));      // a fresh run under the new config is fine
    }
}
