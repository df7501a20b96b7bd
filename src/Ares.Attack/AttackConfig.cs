using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Models.Training;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Attack;

/// <summary>A malformed attack config; the message names the file and the field.</summary>
internal sealed class AttackConfigException(string message) : ArgumentException(message);

/// <summary>
/// An attacker-training run (`ares attack train|smooth`) described by strict JSON: unknown fields and
/// out-of-range values are errors naming the file and the field. Either "sandbox" names a world (its
/// policy is the attacker base and the target, its judge the judge, its attack_seeds.jsonl the seeds) or
/// "attacker"/"target"/"judge" name the models. Models are named as in a probe config and parsed by the
/// same reader (<see cref="ConfigReader.Model"/>): a path, "sandbox:NAME" or an endpoint object
/// {"endpoint": URL, "model": NAME, "api_key_env": …}. The attacker is trained, so it is local; the
/// target (and every transfer target) may be an OpenAI-compatible chat endpoint; the judge a classifier
/// (local, sandbox or a vllm-classify/tei-predict endpoint), a chat guard endpoint, or a probe-style
/// {"type": …, "model": …} judge. Relative paths resolve against the config's directory.
/// </summary>
internal sealed record AttackConfig
{
    public required string Source { get; init; }
    public required string OutDir { get; init; }
    public string? Sandbox { get; init; }
    public string? SandboxRoot { get; init; }
    /// <summary>The attacker's base model: local or sandbox (the world's policy); it is trained, so never an endpoint.</summary>
    public ModelSpec? AttackerBase { get; init; }
    public string? Seeds { get; init; }
    /// <summary>The target attacked in training (and "target" in evaluation): any chat model spec.</summary>
    public ModelSpec? Target { get; init; }
    public JudgeSpec? Judge { get; init; }
    public AttackerContext Context { get; init; } = new();
    public required SftConfig Sft { get; init; }
    public required GflowNetAttackOptions Gfn { get; init; }
    public required ReinforceAttackOptions Reinforce { get; init; }
    public required SmoothingOptions Smoothing { get; init; }
    /// <summary>k target responses per attack prompt.</summary>
    public int ResponsesPerPrompt { get; init; } = 5;
    /// <summary>`ares attack eval` settings (the "eval" section).</summary>
    public AttackEvalSettings Eval { get; init; } = new();
    /// <summary>
    /// Extra targets for transfer ("targets"): model specs, named in reports as written (a path resolved,
    /// "sandbox:NAME" for a world's policy, "MODEL @ URL" for an endpoint). The main target (the one training used) is always evaluated first.
    /// </summary>
    public IReadOnlyList<AttackTargetSpec> Targets { get; init; } = [];
    /// <summary>`ares safety-tune` settings (the "safety_tune" section, bound to <see cref="SafetyTuningOptions"/>'s snake_case names).</summary>
    public SafetyTuningOptions SafetyTune { get; init; } = new();
    public long Seed { get; init; }
    /// <summary>The run store (SQLite) the attack commands record their runs in ("store"; default OUT/runs.db).</summary>
    public required string StorePath { get; init; }
    /// <summary>Prefix of this config's run ids in the store ("run"; default "attack"): runs are RUN.STAGE.N.</summary>
    public string RunName { get; init; } = "attack";
    /// <summary>The config as parsed (comments dropped), stored with every run for provenance.</summary>
    public required string NormalisedJson { get; init; }
    /// <summary>SHA-256 (hex) of <see cref="NormalisedJson"/>.</summary>
    public string ConfigHash => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(NormalisedJson)));

    /// <summary>A "targets" entry naming a sandbox world's policy.</summary>
    public const string SandboxTargetPrefix = "sandbox:";

    public static AttackConfig Load(string path)
    {
        return Parse(ConfigReader.ReadFile(path, "attack config", m => new AttackConfigException(m)), path);
    }

    public static AttackConfig Parse(string json, string source)
    {
        var (root, r) = ConfigReader.Open(json, source, m => new AttackConfigException(m));
        r.Known(root, "", "out", "store", "run", "sandbox", "sandbox_root", "attacker", "target", "judge", "seed", "sft", "train", "reward", "prompts",
            "exploration", "buffer", "reinforce", "smoothing", "eval", "targets", "safety_tune");
        var attacker = r.Obj(root, "attacker"); r.Known(attacker, "attacker.", "base", "seeds", "instruction", "chat_template");
        var sft = r.Obj(root, "sft"); r.Known(sft, "sft.", "steps", "lr", "batch", "warmup");
        var train = r.Obj(root, "train"); r.Known(train, "train.", "steps", "batch", "lr", "log_z_lr", "warmup", "lora_rank", "lora_alpha", "checkpoint_every");
        var reward = r.Obj(root, "reward"); r.Known(reward, "reward.", "k", "beta", "gamma_start", "gamma_end", "temperature_start", "temperature_end",
            "schedule_steps", "harm_floor", "response_tokens");
        var prompts = r.Obj(root, "prompts"); r.Known(prompts, "prompts.", "min_tokens", "max_tokens", "too_short_log_reward");
        var exploration = r.Obj(root, "exploration"); r.Known(exploration, "exploration.", "replay_probability", "tempered_fraction", "temperature_min", "temperature_max");
        var buffer = r.Obj(root, "buffer"); r.Known(buffer, "buffer.", "capacity", "similarity", "edit_distance", "embedder");
        var reinforce = r.Obj(root, "reinforce"); r.Known(reinforce, "reinforce.", "kl", "novelty", "lr", "k");
        var smoothing = r.Obj(root, "smoothing"); r.Known(smoothing, "smoothing.", "min_harm", "min_ref_logprob", "steps", "lr");
        var eval = r.Obj(root, "eval"); r.Known(eval, "eval.", "prompts", "k", "few_shot_examples", "embedder", "seed");

        long seed = r.Long(root, "seed", "seed") ?? 0;
        var g = new GflowNetConfig();
        var gfnDefaults = new GflowNetAttackOptions();
        int steps = r.Int(train, "steps", "train.steps", 1) ?? g.MaxSteps;
        var gfn = g with
        {
            MaxSteps = steps,
            BatchSize = r.Int(train, "batch", "train.batch", 1) ?? g.BatchSize,
            LearningRate = r.Dbl(train, "lr", "train.lr", 1e-8, 1) ?? g.LearningRate,
            LogZLearningRate = r.Dbl(train, "log_z_lr", "train.log_z_lr", 1e-8, 10) ?? g.LogZLearningRate,
            WarmupSteps = r.Int(train, "warmup", "train.warmup", 0) ?? g.WarmupSteps,
            Beta = r.Dbl(reward, "beta", "reward.beta", 1e-6, 1e6) ?? g.Beta,
            GammaStart = r.Dbl(reward, "gamma_start", "reward.gamma_start", 1e-6, 1e6) ?? g.GammaStart,
            GammaEnd = r.Dbl(reward, "gamma_end", "reward.gamma_end", 1e-6, 1e6) ?? g.GammaEnd,
            RewardTemperatureStart = r.Dbl(reward, "temperature_start", "reward.temperature_start", 1e-6, 1e6) ?? g.RewardTemperatureStart,
            RewardTemperatureEnd = r.Dbl(reward, "temperature_end", "reward.temperature_end", 1e-6, 1e6) ?? g.RewardTemperatureEnd,
            ScheduleSteps = r.Int(reward, "schedule_steps", "reward.schedule_steps", 0) ?? Math.Min(g.ScheduleSteps, steps),
            MinTokens = r.Int(prompts, "min_tokens", "prompts.min_tokens", 1) ?? g.MinTokens,
            MaxTokens = r.Int(prompts, "max_tokens", "prompts.max_tokens", 1) ?? g.MaxTokens,
            TooShortLogReward = r.Dbl(prompts, "too_short_log_reward", "prompts.too_short_log_reward", -1e9, 0) ?? g.TooShortLogReward,
            ReplayProbability = r.Dbl(exploration, "replay_probability", "exploration.replay_probability", 0, 1) ?? g.ReplayProbability,
            TemperedFraction = r.Dbl(exploration, "tempered_fraction", "exploration.tempered_fraction", 0, 1) ?? g.TemperedFraction,
            SamplingTemperatureMin = r.Dbl(exploration, "temperature_min", "exploration.temperature_min", 1e-3, 100) ?? g.SamplingTemperatureMin,
            SamplingTemperatureMax = r.Dbl(exploration, "temperature_max", "exploration.temperature_max", 1e-3, 100) ?? g.SamplingTemperatureMax,
            BufferCapacity = r.Int(buffer, "capacity", "buffer.capacity", 1) ?? g.BufferCapacity,
            BufferSimilarity = r.Dbl(buffer, "similarity", "buffer.similarity", -0.999, 1) ?? g.BufferSimilarity,
            BufferEditDistance = r.Dbl(buffer, "edit_distance", "buffer.edit_distance", 0, 1) ?? g.BufferEditDistance,
            Seed = seed,
        };
        try { gfn.Validate(); } catch (ArgumentException e) { throw new AttackConfigException($"{source}: {e.Message}"); }
        var lora = gfnDefaults.Lora with
        {
            Rank = r.Int(train, "lora_rank", "train.lora_rank", 1) ?? gfnDefaults.Lora.Rank,
            Alpha = r.Dbl(train, "lora_alpha", "train.lora_alpha", 1e-6, 1e6) ?? gfnDefaults.Lora.Alpha,
        };
        var targetSampling = gfnDefaults.TargetSampling with { MaxTokens = r.Int(reward, "response_tokens", "reward.response_tokens", 1) ?? gfnDefaults.TargetSampling.MaxTokens, Seed = seed };
        var rd = new ReinforceAttackOptions();
        var sd = new SmoothingOptions();
        var sftDefaults = new SftConfig { LearningRate = 2e-3, MaxSteps = 100, WarmupSteps = 10, BatchSize = 16 };
        string? sandbox = r.Str(root, "sandbox", "sandbox");
        string outDir = r.PathOf(r.Str(root, "out", "out") ?? throw r.Error("out", "is required (the run's output directory)"));
        string runName = r.Str(root, "run", "run") ?? "attack";
        if (!runName.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_')) throw r.Error("run", $"must be letters, digits, '-' or '_' (run ids are RUN.STAGE.N), got '{runName}'");
        var config = new AttackConfig
        {
            Source = source,
            OutDir = outDir,
            StorePath = r.Str(root, "store", "store") is string st ? r.PathOf(st) : Path.Combine(outDir, "runs.db"),
            RunName = runName,
            NormalisedJson = root.ToJsonString(),
            Sandbox = sandbox,
            SandboxRoot = r.Str(root, "sandbox_root", "sandbox_root") is string sr ? r.PathOf(sr) : null,
            AttackerBase = r.Model(attacker?["base"], "attacker.base") is { } b
                ? (b is EndpointModelSpec ? throw r.Error("attacker.base", "is an endpoint; the attacker is trained, so it must be a local model or \"sandbox:NAME\"") : b)
                : null,
            Seeds = r.Str(attacker, "seeds", "attacker.seeds") is string s ? r.PathOf(s) : null,
            Target = r.ChatModel(root["target"], "target"),
            Judge = JudgeField(r, root["judge"]),
            Context = new AttackerContext
            {
                Instruction = r.Str(attacker, "instruction", "attacker.instruction") ?? AttackerContext.DefaultInstruction,
                UseChatTemplate = r.Bool(attacker, "chat_template", "attacker.chat_template") ?? true,
            },
            Sft = sftDefaults with
            {
                MaxSteps = r.Int(sft, "steps", "sft.steps", 1) ?? sftDefaults.MaxSteps,
                LearningRate = r.Dbl(sft, "lr", "sft.lr", 1e-8, 1) ?? sftDefaults.LearningRate,
                BatchSize = r.Int(sft, "batch", "sft.batch", 1) ?? sftDefaults.BatchSize,
                WarmupSteps = r.Int(sft, "warmup", "sft.warmup", 0) ?? sftDefaults.WarmupSteps,
                Seed = seed,
            },
            Gfn = gfnDefaults with
            {
                Training = gfn,
                Lora = lora,
                TargetSampling = targetSampling,
                HarmFloor = r.Dbl(reward, "harm_floor", "reward.harm_floor", 1e-12, 0.5) ?? gfnDefaults.HarmFloor,
                CheckpointEvery = r.Int(train, "checkpoint_every", "train.checkpoint_every", 1) ?? gfnDefaults.CheckpointEvery,
                BufferEmbedder = r.Str(buffer, "embedder", "buffer.embedder") switch
                {
                    null or "minilm" => BufferEmbedding.MiniLm,
                    "attacker" => BufferEmbedding.AttackerStates,
                    var e => throw r.Error("buffer.embedder", $"must be minilm or attacker, got '{e}'"),
                },
            },
            Reinforce = rd with
            {
                // Same budget: steps, and batch × k_rl = the GFlowNet's batch.
                Training = rd.Training with
                {
                    MaxSteps = steps,
                    CompletionsPerPrompt = r.Int(reinforce, "k", "reinforce.k", 2) ?? rd.Training.CompletionsPerPrompt,
                    LearningRate = r.Dbl(reinforce, "lr", "reinforce.lr", 1e-8, 1) ?? gfn.LearningRate,
                    Beta = r.Dbl(reinforce, "kl", "reinforce.kl", 0, 1e6) ?? rd.Training.Beta,
                    MaxNewTokens = gfn.MaxTokens,
                    WarmupSteps = gfn.WarmupSteps,
                    Seed = seed,
                },
                Lora = lora,
                TargetSampling = targetSampling,
                NoveltyBonus = r.Dbl(reinforce, "novelty", "reinforce.novelty", 0, 1e6) ?? 0,
                CheckpointEvery = r.Int(train, "checkpoint_every", "train.checkpoint_every", 1) ?? rd.CheckpointEvery,
            },
            Smoothing = sd with
            {
                MinHarm = r.Dbl(smoothing, "min_harm", "smoothing.min_harm", 0, 1) ?? sd.MinHarm,
                MinRefLogProb = r.Dbl(smoothing, "min_ref_logprob", "smoothing.min_ref_logprob", -1e9, 0) ?? sd.MinRefLogProb,
                Sft = sd.Sft with
                {
                    MaxSteps = r.Int(smoothing, "steps", "smoothing.steps", 1) ?? sd.Sft.MaxSteps,
                    LearningRate = r.Dbl(smoothing, "lr", "smoothing.lr", 1e-8, 1) ?? sd.Sft.LearningRate,
                    Seed = seed,
                },
            },
            ResponsesPerPrompt = r.Int(reward, "k", "reward.k", 1) ?? 5,
            Eval = new AttackEvalSettings
            {
                Prompts = r.Int(eval, "prompts", "eval.prompts", 2) ?? 128,
                ResponsesPerPrompt = r.Int(eval, "k", "eval.k", 1) ?? r.Int(reward, "k", "reward.k", 1) ?? 5,
                FewShotExamples = r.Int(eval, "few_shot_examples", "eval.few_shot_examples", 1) ?? 3,
                Embedder = eval?["embedder"] switch
                {
                    null => null,
                    JsonValue v when v.TryGetValue<string>(out var em) && em == "minilm" => null,
                    JsonValue v when v.TryGetValue<string>(out var em) && em == AttackEvalSettings.JudgeEmbedder => AttackEvalSettings.JudgeEmbedder,
                    var node => r.Model(node, "eval.embedder") switch
                    {
                        LocalModelSpec l => l.Path,
                        SandboxModelSpec w => SandboxTargetPrefix + w.World,   // the world's judge, resolved at run time
                        _ => throw r.Error("eval.embedder", "is an endpoint; prompts are embedded by \"minilm\", \"judge\", a local model or \"sandbox:NAME\" (its judge)"),
                    },
                },
                Seed = r.Long(eval, "seed", "eval.seed") ?? seed + 17,
            },
            Targets = TargetsSection(r, root),
            SafetyTune = SafetyTuneSection(r, root),
            Seed = seed,
        };
        var rl = config.Reinforce.Training;
        config = config with { Reinforce = config.Reinforce with { Training = rl with { BatchSize = Math.Max(1, gfn.BatchSize / rl.CompletionsPerPrompt) } } };
        if (sandbox is null && (config.AttackerBase is null || config.Seeds is null || config.Target is null || config.Judge is null))
            throw new AttackConfigException($"{source}: give either 'sandbox' (a world name) or all of 'attacker.base', 'attacker.seeds', 'target' and 'judge'");
        return config;
    }

    /// <summary>"targets": an array of chat model specs (paths resolved against the config, "sandbox:NAME", endpoint objects).</summary>
    static IReadOnlyList<AttackTargetSpec> TargetsSection(ConfigReader r, JsonObject root)
    {
        if (root["targets"] is null) return [];
        if (root["targets"] is not JsonArray a) throw r.Error("targets", "must be an array of model specs (a path, \"sandbox:NAME\" or {\"endpoint\": …, \"model\": …})");
        var list = new List<AttackTargetSpec>();
        for (int i = 0; i < a.Count; i++)
        {
            var spec = r.ChatModel(a[i], $"targets[{i}]") ?? throw r.Error($"targets[{i}]", "must be a model spec, not null");
            list.Add(new AttackTargetSpec(spec switch
            {
                LocalModelSpec l => l.Path,
                SandboxModelSpec w => SandboxTargetPrefix + w.World,
                EndpointModelSpec e => $"{e.Model} @ {e.Url}",
                _ => throw r.Error($"targets[{i}]", $"is an unsupported model spec {spec}"),
            }, spec));
        }
        var dup = list.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw r.Error("targets", $"names '{dup.Key}' twice");
        return list;
    }

    /// <summary>
    /// "judge": a probe-style judge object ({"type": "classifier"|"guard"|"refusal", "model": …}) or a bare
    /// model spec: a local or sandbox model or a vllm-classify/tei-predict endpoint is a classifier, an
    /// OpenAI-compatible chat endpoint a guard (it reads the chat model's verdict).
    /// </summary>
    static JudgeSpec? JudgeField(ConfigReader r, JsonNode? node) => node switch
    {
        null => null,
        JsonObject o when o.ContainsKey("type") => ProbeConfig.ReadJudge(r, o),
        JsonValue v when v.TryGetValue<string>(out var s) && s == "refusal" => ProbeConfig.ReadJudge(r, v),
        _ => r.Model(node, "judge") switch
        {
            EndpointModelSpec { Api: null } e => new JudgeSpec(JudgeKind.Guard, e),
            EndpointModelSpec { Api: not (ScoringApi.VllmClassify or ScoringApi.TeiPredict) } =>
                throw r.Error("judge.api", "must be vllm-classify or tei-predict for a classifier judge endpoint (or absent for a chat guard)"),
            var m => new JudgeSpec(JudgeKind.Classifier, m),
        },
    };

    static readonly JsonSerializerOptions Strict = new(AttackJson.Indented) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    /// <summary>"safety_tune" bound strictly (unknown names are errors) to <see cref="SafetyTuningOptions"/> and validated.</summary>
    static SafetyTuningOptions SafetyTuneSection(ConfigReader r, JsonObject root)
    {
        var node = r.Obj(root, "safety_tune");
        if (node is null) return new SafetyTuningOptions();
        SafetyTuningOptions options;
        try { options = node.Deserialize<SafetyTuningOptions>(Strict) ?? new SafetyTuningOptions(); }
        catch (JsonException e) { throw r.Error("safety_tune" + (e.Path is { Length: > 1 } p ? p[1..] : ""), $"does not bind: {e.Message}"); }
        try { options.Validate(); } catch (ArgumentException e) { throw r.Error("safety_tune", $"is invalid: {e.Message}"); }
        return options;
    }
}

/// <summary>A transfer target: the name reports and the store use, and the model spec it loads from.</summary>
internal sealed record AttackTargetSpec(string Name, ModelSpec Model);

/// <summary>`ares attack eval`: N prompts per method, k target responses each, the few-shot baseline's example count and the diversity embedder.</summary>
internal sealed record AttackEvalSettings
{
    /// <summary>Prompts sampled per method (N); the paper samples 1,024.</summary>
    public int Prompts { get; init; } = 128;
    /// <summary>Target responses per prompt (k); defaults to reward.k so evaluation scores as training rewarded.</summary>
    public int ResponsesPerPrompt { get; init; } = 5;
    /// <summary>Seed prompts shown per few-shot sample.</summary>
    public int FewShotExamples { get; init; } = 3;
    /// <summary>eval.embedder "judge": the judge's mean-pooled states embed prompts (the embedder before MiniLM became the default).</summary>
    public const string JudgeEmbedder = "judge";
    /// <summary>
    /// What embeds prompts for diversity: null = the MiniLM sentence encoder (<see cref="MiniLmEmbedder"/>, the paper's);
    /// <see cref="JudgeEmbedder"/>, a model path or "sandbox:NAME" (that world's judge) = that model's mean-pooled states (<see cref="PromptEmbedder"/>).
    /// </summary>
    public string? Embedder { get; init; }
    /// <summary>Seeds every method's sampling alike.</summary>
    public long Seed { get; init; } = 17;
}
