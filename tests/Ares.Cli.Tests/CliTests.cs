using System.Text;

namespace Ares.Cli.Tests;

/// <summary>The `ares` commands as a user runs them (in-process; one class, so Console capture is serial).</summary>
public sealed class CliTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"ares-cli-{Guid.NewGuid():N}");
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }

    static (int Code, string Out, string Err) Run(params string[] args) => CliHarness.Run(args);

    static string Stories => Fixtures.Stories260KGguf;

    [Fact]
    public void Generate_from_BOS_prints_exactly_the_golden_text()
    {
        var (code, stdout, stderr) = Run("generate", "--model", Stories, "--prompt", "", "--max-new-tokens", "200", "--temperature", "0");
        Assert.True(code == 0, stderr);
        var golden = File.ReadAllBytes(Path.Combine(Fixtures.Root, "stories260K", "greedy_bos_200.txt"));
        Assert.Equal(golden, Encoding.UTF8.GetBytes(stdout));
    }

    [Fact]
    public void Generate_with_a_seed_is_reproducible_and_continues_the_prompt()
    {
        string[] args = ["generate", "--model", Stories, "--prompt", "Once upon a time", "--max-new-tokens", "30", "--temperature", "0.8", "--seed", "42"];
        var a = Run(args);
        var b = Run(args);
        Assert.Equal(0, a.Code);
        Assert.Equal(a.Out, b.Out);
        Assert.NotEmpty(a.Out.Trim());
        var c = Run([.. args[..^1], "43"]);
        Assert.NotEqual(a.Out, c.Out);
    }

    [Fact]
    public void Tokenize_prints_ids_with_BOS()
    {
        var (code, stdout, _) = Run("tokenize", "--model", Stories, "--text", "Once upon a time");
        Assert.Equal(0, code);
        Assert.Equal("1 403 407 261 378", stdout.Trim());
    }

    [Fact]
    public void Model_info_describes_the_checkpoint()
    {
        var (code, stdout, _) = Run("model", "info", Stories);
        Assert.Equal(0, code);
        Assert.Contains("architecture:    llama", stdout);
        Assert.Contains("layers:          5", stdout);
        Assert.Contains("attention heads: 8 (key/value heads 4, head dim 8)", stdout);
        Assert.Contains("vocab size:      512", stdout);
        Assert.Contains("F32", stdout);
        Assert.Contains("tokenizer:       gguf llama", stdout);
        Assert.Matches(@"parameters:\s+2\d\d,\d{3} ", stdout);
    }

    [Fact]
    public void Quantize_writes_a_Q8_0_gguf_that_info_describes_and_generate_runs()
    {
        Directory.CreateDirectory(_dir);
        string q = Path.Combine(_dir, "q8.gguf");
        var (code, stdout, err) = Run("model", "quantize", Stories, "--out", q, "--type", "q8_0");
        Assert.True(code == 0, err);
        Assert.Contains("Q8_0  ×32", stdout); // 5 layers × 6 matrices (ffn_down, rows of 172, → F16), plus token_embd and output
        var info = Run("model", "info", q).Out;
        Assert.Contains("Q8_0 ×32", info);
        Assert.Contains("F16 ×5", info);
        var fromF32 = Run("generate", "--model", Stories, "--prompt", "The dog", "--max-new-tokens", "30", "--temperature", "0");
        var fromQ8 = Run("generate", "--model", q, "--prompt", "The dog", "--max-new-tokens", "30", "--temperature", "0");
        Assert.Equal(0, fromQ8.Code);
        Assert.Equal(fromF32.Out, fromQ8.Out);
        Assert.Equal(2, Run("model", "quantize", Stories, "--out", q, "--type", "iq2_xxs").Code);
    }

    [Fact]
    public void Model_info_names_qwen3_and_phi3_with_head_dim_rotary_dims_and_sliding_window()
    {
        void WithTokenizer(string dir)
        {
            foreach (var f in Directory.GetFiles(Path.Combine(Fixtures.Tokenizers, "qwen3"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        }
        var qwen = new Models.Tests.TinyCheckpoint(new() { Family = "qwen3", HeadDim = 16, Window = 4, WindowFromLayer = 1 }).WriteHf(Path.Combine(_dir, "qwen3"));
        WithTokenizer(qwen);
        var (code, stdout, err) = Run("model", "info", qwen);
        Assert.True(code == 0, err);
        Assert.Contains("architecture:    qwen3 (Qwen3ForCausalLM)", stdout);
        Assert.Contains("attention heads: 4 (key/value heads 2, head dim 16)", stdout);
        Assert.Contains("sliding window:  4 (layers 1..1)", stdout);
        Assert.Contains("chat format:     ChatML", stdout);

        var phi = new Models.Tests.TinyCheckpoint(new()
        {
            Family = "phi3", PartialRotary = 0.5, Window = 6, OriginalMaxPositions = 8, MaxPositions = 64, ShortFactor = [1, 2], LongFactor = [3, 4],
        }).WriteHf(Path.Combine(_dir, "phi3"));
        WithTokenizer(phi);
        (code, stdout, err) = Run("model", "info", phi);
        Assert.True(code == 0, err);
        Assert.Contains("architecture:    phi3 (Phi3ForCausalLM)", stdout);
        Assert.Contains("rotary dims 4 of 8, longrope (original context 8, attention factor 1.41421)", stdout);
        Assert.Contains("sliding window:  6", stdout);
    }

    [Fact]
    public void Export_then_generate_from_the_HF_directory_gives_the_same_text()
    {
        var (code, _, err) = Run("model", "export", Stories, "--out", _dir);
        Assert.True(code == 0, err);
        var fromGguf = Run("generate", "--model", Stories, "--prompt", "The dog", "--max-new-tokens", "40", "--temperature", "0");
        var fromHf = Run("generate", "--model", _dir, "--prompt", "The dog", "--max-new-tokens", "40", "--temperature", "0");
        Assert.Equal(fromGguf.Out, fromHf.Out);
        Assert.Contains("format:          hf", Run("model", "info", _dir).Out);
    }

    [Fact]
    public void Bad_input_gives_one_clear_error_line_and_exit_code_2()
    {
        Directory.CreateDirectory(_dir);
        var bad = Path.Combine(_dir, "bad.gguf");
        File.WriteAllBytes(bad, Encoding.ASCII.GetBytes("GGUF\u0003\0\0\0garbage"));
        var (code, stdout, stderr) = Run("generate", "--model", bad, "--prompt", "x", "--max-new-tokens", "1", "--temperature", "0");
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains(bad, stderr);
        Assert.Equal(2, Run("generate", "--model", Path.Combine(_dir, "missing"), "--prompt", "x").Code);
        Assert.Equal(2, Run("generate", "--model", Stories, "--prompt", "x", "--temperature", "-1").Code);
        Assert.Equal(2, Run("generate", "--model", Stories, "--prompt", "x", "--max-new-tokens", "100000").Code);
    }

    [Fact]
    public void Every_command_explains_itself_with_help()
    {
        foreach (var cmd in new[] { new[] { "--help" }, ["generate", "--help"], ["tokenize", "--help"], ["model", "info", "--help"], ["model", "export", "--help"],
            ["model", "quantize", "--help"], ["bench", "model", "--help"], ["bench", "generate", "--help"], ["bench", "write-model", "--help"], ["sandbox", "build", "--help"] })
        {
            var (code, stdout, _) = Run(cmd);
            Assert.Equal(0, code);
            Assert.Contains("Usage:", stdout);
        }
    }

    [Fact]
    public void Bench_runs_at_tiny_size_and_reports_every_figure()
    {
        var (code, stdout, stderr) = Run("bench", "model", "--size", "tiny", "--steps", "1", "--batch", "2", "--seq", "32", "--gen-tokens", "4");
        Assert.True(code == 0, stderr);
        foreach (var label in new[] { "training:", "MFU:", "machine peak", "generation, batch 1:", "generation, batch 16:" })
            Assert.Contains(label, stdout);
    }

    [Fact]
    public void Bench_generate_prints_one_json_object_per_shape_with_median_rates()
    {
        var (code, stdout, stderr) = Run("bench", "generate", "--model", Stories, "--batch", "1,3", "--prompt-tokens", "4",
            "--new-tokens", "3", "--rounds", "2", "--json", "--threads", "1", "--clock", "cpu");
        Assert.True(code == 0, stderr);
        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        Assert.Equal([1, 3], rows.Select(r => (int)r["batch"]!));
        foreach (var r in rows)
        {
            Assert.Equal((4, 3, "cpu"), ((int)r["prompt_tokens"]!, (int)r["new_tokens"]!, (string)r["clock"]!));
            Assert.True((double)r["prefill_tok_s"]! > 0 && (double)r["gen_tok_s"]! > 0, r.ToJsonString());
            Assert.InRange((double)r["gen_tok_s"]!, (double)r["gen_tok_s_min"]!, (double)r["gen_tok_s_max"]!);
        }
        var bad = Run("bench", "generate", "--model", Stories, "--batch", "1,x");
        Assert.Equal(2, bad.Code);
        Assert.Contains("error: --batch '1,x': 'x' is not a positive integer", bad.Err);
    }

    [Fact]
    public void Sandbox_build_reuses_a_cached_world_and_prints_its_self_check()
    {
        // A world.json with the small spec's hash is a cache hit: the command reports it without training anything.
        var catalog = Ares.RedTeam.Catalog.ComponentCatalog.Default();
        var spec = Ares.RedTeam.Sandbox.SandboxSpec.Small;
        var truth = spec.GroundTruth(catalog);
        var check = new Ares.RedTeam.Sandbox.SandboxSelfCheck
        {
            Judge = new(10, 10, 4, 4, 6, 6),
            Policy = [.. truth.Tactics.Select(t => new Ares.RedTeam.Sandbox.PolicyTacticCheck(t, truth.PolicyComplies(t), 4, truth.PolicyComplies(t) ? 4 : 0, truth.PolicyComplies(t) ? 0 : 4, 0))],
            PolicyBenign = [new("everyday", 20, 0, 0)],
            Reward = [.. truth.Tactics.Select(t => new Ares.RedTeam.Sandbox.RewardTacticCheck(t, truth.RmPrefersMalicious(t), 4, 3))],
            BuildSeconds = 12.5,
        };
        var file = new Ares.RedTeam.Sandbox.SandboxManifest
        {
            Name = "cached", BuilderVersion = Ares.RedTeam.Sandbox.SandboxBuilder.Version, SpecHash = spec.Hash(catalog), CatalogVersion = catalog.Version,
            Spec = spec, GroundTruth = truth, SelfCheck = check, CreatedUtc = DateTime.UtcNow,
        };
        Directory.CreateDirectory(Path.Combine(_dir, "cached", "data"));
        foreach (var model in new[] { "policy", "reward", "judge" })
        {
            Directory.CreateDirectory(Path.Combine(_dir, "cached", model));
            foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json" }) File.WriteAllText(Path.Combine(_dir, "cached", model, f), "");
        }
        File.WriteAllText(Path.Combine(_dir, "cached", "world.json"), System.Text.Json.JsonSerializer.Serialize(file, SnakeCaseJson.Options));

        var (code, stdout, stderr) = Run("sandbox", "build", "--spec", "small", "--root", _dir, "--name", "cached");
        Assert.True(code == 0, stderr);
        Assert.Contains("cached", stdout);
        Assert.Contains("judge accuracy: 10/10", stdout);
        Assert.Contains("hypothetical", stdout);
        Assert.Contains("below the aims", stdout);    // the RM matched 3 of 4 per tactic
        Assert.Equal(0, new FileInfo(Path.Combine(_dir, "cached", "policy", "model.safetensors")).Length);   // not rebuilt
    }

    [Fact]
    public void Sandbox_build_rejects_an_unknown_spec_or_name()
    {
        var (code, _, stderr) = Run("sandbox", "build", "--spec", "huge", "--root", _dir);
        Assert.Equal(2, code);
        Assert.Contains("--spec 'huge'", stderr);
        (code, _, stderr) = Run("sandbox", "build", "--spec", "small", "--root", _dir, "--name", "../escape");
        Assert.Equal(2, code);
        Assert.Contains("'../escape'", stderr);
    }

    [Fact]
    public void Datasets_inspect_prints_the_format_the_row_count_and_one_line_per_category()
    {
        Directory.CreateDirectory(_dir);
        var file = Path.Combine(_dir, "harmbench_behaviors_text_all.csv");
        File.WriteAllText(file, "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\n" +
            "\"Write a post, persuasively\",standard,misinformation,,,a\nEdit this,contextual,harassment,context,\"Dear Sam,\nhello\",b\n" +
            "Write more misinformation,standard,misinformation,,,c\nGenerate the lyrics,copyright,copyright,\"lyrics, hash_check\",,d\n");
        var (code, stdout, stderr) = Run("datasets", "inspect", file);
        Assert.True(code == 0, stderr);
        var lines = stdout.ReplaceLineEndings("\n").Split('\n');
        Assert.Equal(["format: harmbench", "rows: 4", "misinformation: 2", "harassment: 1", "copyright: 1", "contextual rows: 1"], lines.Take(6));
        Assert.Contains("copyright rows (judged by hashing in HarmBench, left unscored by `ares eval`): 1", stdout);

        File.WriteAllText(file, "category,source,forbidden_prompt\nViolence,custom,\"never closed\n");
        (code, _, stderr) = Run("datasets", "inspect", file);
        Assert.Equal(2, code);
        Assert.StartsWith($"error: {file}:2: column 3 ('forbidden_prompt'): a quoted field that is never closed", stderr);
    }
}
