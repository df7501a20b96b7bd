using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Models.Training;
using Ares.RedTeam.Chat;

namespace Ares.RedTeam.Attack;

/// <summary>A malformed attack config; the message names the file and the field.</summary>
internal sealed class AttackConfigException(string message) : ArgumentException(message);

/// <summary>
/// An attacker-training run (`ares attack train|smooth`) described by strict JSON: unknown fields and
/// out-of-range values are errors naming the file and the field. Either "sandbox" names a world (its
/// policy is the attacker base and the target, its judge the judge, its attack_seeds.jsonl the seeds) or
/// "attacker"/"target"/"judge" give paths. Relative paths resolve against the config's directory.
/// </summary>
internal sealed record AttackConfig
{
    public required string Source { get; init; }
    public required string OutDir { get; init; }
    public string? Sandbox { get; init; }
    public string? SandboxRoot { get; init; }
    public string? AttackerBase { get; init; }
    public string? Seeds { get; init; }
    public string? Target { get; init; }
    public string? Judge { get; init; }
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
    /// Extra targets for transfer ("targets"): local model directories (absolute) or "sandbox:NAME" for a
    /// world's policy. The main target (the one training used) is always evaluated first.
    /// </summary>
    public IReadOnlyList<string> Targets { get; init; } = [];
    /// <summary>`ares safety-tune` settings (the "safety_tune" section, bound to <see cref="SafetyTuningOptions"/>'s snake_case names).</summary>
    public SafetyTuningOptions SafetyTune { get; init; } = new();
    public long Seed { get; init; }

    /// <summary>A "targets" entry naming a sandbox world's policy.</summary>
    public const string SandboxTargetPrefix = "sandbox:";

    public static AttackConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: attack config not found", path);
        return Parse(File.ReadAllText(path), path);
    }

    public static AttackConfig Parse(string json, string source)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new AttackConfigException($"{source}: expected a JSON object");
        }
        catch (JsonException e) { throw new AttackConfigException($"{source}: not valid JSON ({e.Message})"); }
        var r = new Reader(source, Path.GetDirectoryName(Path.GetFullPath(source))!);
        r.Known(root, "", "out", "sandbox", "sandbox_root", "attacker", "target", "judge", "seed", "sft", "train", "reward", "prompts", "exploration", "buffer", "reinforce", "smoothing", "eval", "targets", "safety_tune");
        var attacker = r.Obj(root, "attacker"); r.Known(attacker, "attacker.", "base", "seeds", "instruction", "chat_template");
        var sft = r.Obj(root, "sft"); r.Known(sft, "sft.", "steps", "lr", "batch", "warmup");
        var train = r.Obj(root, "train"); r.Known(train, "train.", "steps", "batch", "lr", "log_z_lr", "warmup", "lora_rank", "lora_alpha", "checkpoint_every");
        var reward = r.Obj(root, "reward"); r.Known(reward, "reward.", "k", "beta", "gamma_start", "gamma_end", "temperature_start", "temperature_end", "schedule_steps", "harm_floor", "response_tokens");
        var prompts = r.Obj(root, "prompts"); r.Known(prompts, "prompts.", "min_tokens", "max_tokens", "too_short_log_reward");
        var exploration = r.Obj(root, "exploration"); r.Known(exploration, "exploration.", "replay_probability", "tempered_fraction", "temperature_min", "temperature_max");
        var buffer = r.Obj(root, "buffer"); r.Known(buffer, "buffer.", "capacity", "similarity", "edit_distance");
        var reinforce = r.Obj(root, "reinforce"); r.Known(reinforce, "reinforce.", "kl", "novelty", "lr", "k");
        var smoothing = r.Obj(root, "smoothing"); r.Known(smoothing, "smoothing.", "min_harm", "min_ref_logprob", "steps", "lr");
        var eval = r.Obj(root, "eval"); r.Known(eval, "eval.", "prompts", "k", "few_shot_examples", "embedder", "seed");

        long seed = r.Long(root, "seed") ?? 0;
        var g = new GflowNetConfig();
        var gfnDefaults = new GflowNetAttackOptions();
        int steps = r.Int(train, "train.steps", 1) ?? g.MaxSteps;
        var gfn = g with
        {
            MaxSteps = steps,
            BatchSize = r.Int(train, "train.batch", 1) ?? g.BatchSize,
            LearningRate = r.Dbl(train, "train.lr", 1e-8, 1) ?? g.LearningRate,
            LogZLearningRate = r.Dbl(train, "train.log_z_lr", 1e-8, 10) ?? g.LogZLearningRate,
            WarmupSteps = r.Int(train, "train.warmup", 0) ?? g.WarmupSteps,
            Beta = r.Dbl(reward, "reward.beta", 1e-6, 1e6) ?? g.Beta,
            GammaStart = r.Dbl(reward, "reward.gamma_start", 1e-6, 1e6) ?? g.GammaStart,
            GammaEnd = r.Dbl(reward, "reward.gamma_end", 1e-6, 1e6) ?? g.GammaEnd,
            RewardTemperatureStart = r.Dbl(reward, "reward.temperature_start", 1e-6, 1e6) ?? g.RewardTemperatureStart,
            RewardTemperatureEnd = r.Dbl(reward, "reward.temperature_end", 1e-6, 1e6) ?? g.RewardTemperatureEnd,
            ScheduleSteps = r.Int(reward, "reward.schedule_steps", 0) ?? Math.Min(g.ScheduleSteps, steps),
            MinTokens = r.Int(prompts, "prompts.min_tokens", 1) ?? g.MinTokens,
            MaxTokens = r.Int(prompts, "prompts.max_tokens", 1) ?? g.MaxTokens,
            TooShortLogReward = r.Dbl(prompts, "prompts.too_short_log_reward", -1e9, 0) ?? g.TooShortLogReward,
            ReplayProbability = r.Dbl(exploration, "exploration.replay_probability", 0, 1) ?? g.ReplayProbability,
            TemperedFraction = r.Dbl(exploration, "exploration.tempered_fraction", 0, 1) ?? g.TemperedFraction,
            SamplingTemperatureMin = r.Dbl(exploration, "exploration.temperature_min", 1e-3, 100) ?? g.SamplingTemperatureMin,
            SamplingTemperatureMax = r.Dbl(exploration, "exploration.temperature_max", 1e-3, 100) ?? g.SamplingTemperatureMax,
            BufferCapacity = r.Int(buffer, "buffer.capacity", 1) ?? g.BufferCapacity,
            BufferSimilarity = r.Dbl(buffer, "buffer.similarity", -0.999, 1) ?? g.BufferSimilarity,
            BufferEditDistance = r.Dbl(buffer, "buffer.edit_distance", 0, 1) ?? g.BufferEditDistance,
            Seed = seed,
        };
        try { gfn.Validate(); } catch (ArgumentException e) { throw new AttackConfigException($"{source}: {e.Message}"); }
        var lora = gfnDefaults.Lora with
        {
            Rank = r.Int(train, "train.lora_rank", 1) ?? gfnDefaults.Lora.Rank,
            Alpha = r.Dbl(train, "train.lora_alpha", 1e-6, 1e6) ?? gfnDefaults.Lora.Alpha,
        };
        var targetSampling = gfnDefaults.TargetSampling with { MaxTokens = r.Int(reward, "reward.response_tokens", 1) ?? gfnDefaults.TargetSampling.MaxTokens, Seed = seed };
        var rd = new ReinforceAttackOptions();
        var sd = new SmoothingOptions();
        var sftDefaults = new SftConfig { LearningRate = 2e-3, MaxSteps = 100, WarmupSteps = 10, BatchSize = 16 };
        string? sandbox = r.Str(root, "sandbox");
        var config = new AttackConfig
        {
            Source = source,
            OutDir = r.PathOf(r.Str(root, "out") ?? throw r.Error("out", "is required (the run's output directory)")),
            Sandbox = sandbox,
            SandboxRoot = r.Str(root, "sandbox_root") is string sr ? r.PathOf(sr) : null,
            AttackerBase = r.Str(attacker, "attacker.base") is string b ? r.PathOf(b) : null,
            Seeds = r.Str(attacker, "attacker.seeds") is string s ? r.PathOf(s) : null,
            Target = r.Str(root, "target") is string t ? r.PathOf(t) : null,
            Judge = r.Str(root, "judge") is string j ? r.PathOf(j) : null,
            Context = new AttackerContext
            {
                Instruction = r.Str(attacker, "attacker.instruction") ?? AttackerContext.DefaultInstruction,
                UseChatTemplate = r.Bool(attacker, "attacker.chat_template") ?? true,
            },
            Sft = sftDefaults with
            {
                MaxSteps = r.Int(sft, "sft.steps", 1) ?? sftDefaults.MaxSteps,
                LearningRate = r.Dbl(sft, "sft.lr", 1e-8, 1) ?? sftDefaults.LearningRate,
                BatchSize = r.Int(sft, "sft.batch", 1) ?? sftDefaults.BatchSize,
                WarmupSteps = r.Int(sft, "sft.warmup", 0) ?? sftDefaults.WarmupSteps,
                Seed = seed,
            },
            Gfn = gfnDefaults with
            {
                Training = gfn, Lora = lora, TargetSampling = targetSampling,
                HarmFloor = r.Dbl(reward, "reward.harm_floor", 1e-12, 0.5) ?? gfnDefaults.HarmFloor,
                CheckpointEvery = r.Int(train, "train.checkpoint_every", 1) ?? gfnDefaults.CheckpointEvery,
            },
            Reinforce = rd with
            {
                // Same budget: steps, and batch × k_rl = the GFlowNet's batch.
                Training = rd.Training with
                {
                    MaxSteps = steps,
                    CompletionsPerPrompt = r.Int(reinforce, "reinforce.k", 2) ?? rd.Training.CompletionsPerPrompt,
                    LearningRate = r.Dbl(reinforce, "reinforce.lr", 1e-8, 1) ?? gfn.LearningRate,
                    Beta = r.Dbl(reinforce, "reinforce.kl", 0, 1e6) ?? rd.Training.Beta,
                    MaxNewTokens = gfn.MaxTokens,
                    WarmupSteps = gfn.WarmupSteps,
                    Seed = seed,
                },
                Lora = lora, TargetSampling = targetSampling,
                NoveltyBonus = r.Dbl(reinforce, "reinforce.novelty", 0, 1e6) ?? 0,
            },
            Smoothing = sd with
            {
                MinHarm = r.Dbl(smoothing, "smoothing.min_harm", 0, 1) ?? sd.MinHarm,
                MinRefLogProb = r.Dbl(smoothing, "smoothing.min_ref_logprob", -1e9, 0) ?? sd.MinRefLogProb,
                Sft = sd.Sft with
                {
                    MaxSteps = r.Int(smoothing, "smoothing.steps", 1) ?? sd.Sft.MaxSteps,
                    LearningRate = r.Dbl(smoothing, "smoothing.lr", 1e-8, 1) ?? sd.Sft.LearningRate,
                    Seed = seed,
                },
            },
            ResponsesPerPrompt = r.Int(reward, "reward.k", 1) ?? 5,
            Eval = new AttackEvalSettings
            {
                Prompts = r.Int(eval, "eval.prompts", 2) ?? 128,
                ResponsesPerPrompt = r.Int(eval, "eval.k", 1) ?? r.Int(reward, "reward.k", 1) ?? 5,
                FewShotExamples = r.Int(eval, "eval.few_shot_examples", 1) ?? 3,
                Embedder = r.Str(eval, "eval.embedder") is string em ? r.PathOf(em) : null,
                Seed = r.Long(eval, "eval.seed") ?? seed + 17,
            },
            Targets = r.Targets(root),
            SafetyTune = r.SafetyTune(root),
            Seed = seed,
        };
        var rl = config.Reinforce.Training;
        config = config with { Reinforce = config.Reinforce with { Training = rl with { BatchSize = Math.Max(1, gfn.BatchSize / rl.CompletionsPerPrompt) } } };
        if (sandbox is null && (config.AttackerBase is null || config.Seeds is null || config.Target is null || config.Judge is null))
            throw new AttackConfigException($"{source}: give either 'sandbox' (a world name) or all of 'attacker.base', 'attacker.seeds', 'target' and 'judge'");
        return config;
    }

    sealed class Reader(string source, string baseDir)
    {
        public AttackConfigException Error(string field, string what) => new($"{source}: field '{field}' {what}");
        public string PathOf(string p) => Path.GetFullPath(Path.Combine(baseDir, p));
        static string Key(string field) => field[(field.LastIndexOf('.') + 1)..];

        public void Known(JsonObject? o, string prefix, params string[] names)
        {
            if (o is null) return;
            foreach (var (key, _) in o)
                if (!names.Contains(key)) throw new AttackConfigException($"{source}: unknown field '{prefix}{key}' (expected one of {string.Join(", ", names)})");
        }

        /// <summary>"targets": an array of model directories (resolved against the config) or "sandbox:NAME".</summary>
        public IReadOnlyList<string> Targets(JsonObject root)
        {
            if (root["targets"] is null) return [];
            if (root["targets"] is not JsonArray a) throw Error("targets", "must be an array of model directories or \"sandbox:NAME\" strings");
            var list = new List<string>();
            for (int i = 0; i < a.Count; i++)
            {
                if (a[i] is not JsonValue v || !v.TryGetValue<string>(out var t) || string.IsNullOrWhiteSpace(t))
                    throw Error($"targets[{i}]", "must be a non-empty string (a model directory or \"sandbox:NAME\")");
                if (t.StartsWith(AttackConfig.SandboxTargetPrefix, StringComparison.Ordinal))
                {
                    if (t.Length == AttackConfig.SandboxTargetPrefix.Length) throw Error($"targets[{i}]", "names no world after \"sandbox:\"");
                    list.Add(t);
                }
                else list.Add(PathOf(t));
            }
            return list;
        }

        static readonly JsonSerializerOptions Strict = new(AttackJson.Indented) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

        /// <summary>"safety_tune" bound strictly (unknown names are errors) to <see cref="SafetyTuningOptions"/> and validated.</summary>
        public SafetyTuningOptions SafetyTune(JsonObject root)
        {
            var node = Obj(root, "safety_tune");
            if (node is null) return new SafetyTuningOptions();
            SafetyTuningOptions options;
            try { options = node.Deserialize<SafetyTuningOptions>(Strict) ?? new SafetyTuningOptions(); }
            catch (JsonException e) { throw Error("safety_tune" + (e.Path is { Length: > 1 } p ? p[1..] : ""), $"does not bind: {e.Message}"); }
            try { options.Validate(); } catch (ArgumentException e) { throw Error("safety_tune", $"is invalid: {e.Message}"); }
            return options;
        }

        public JsonObject? Obj(JsonObject o, string key) => o[key] switch
        {
            null => null,
            JsonObject x => x,
            _ => throw Error(key, "must be an object"),
        };

        public string? Str(JsonObject? o, string field) => o?[Key(field)] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) && s.Length > 0 => s,
            _ => throw Error(field, "must be a non-empty string"),
        };

        public bool? Bool(JsonObject? o, string field) => o?[Key(field)] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            _ => throw Error(field, "must be true or false"),
        };

        public long? Long(JsonObject? o, string field) => o?[Key(field)] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<long>(out var x) => x,
            _ => throw Error(field, "must be an integer"),
        };

        public int? Int(JsonObject? o, string field, int min) => o?[Key(field)] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<int>(out var x) && x >= min => x,
            _ => throw Error(field, $"must be an integer ≥ {min}"),
        };

        public double? Dbl(JsonObject? o, string field, double min, double max) => o?[Key(field)] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<double>(out var x) && x >= min && x <= max => x,
            _ => throw Error(field, $"must be a number in [{min}, {max}]"),
        };
    }
}

/// <summary>`ares attack eval`: N prompts per method, k target responses each, the few-shot baseline's example count and the diversity embedder.</summary>
internal sealed record AttackEvalSettings
{
    /// <summary>Prompts sampled per method (N); the paper samples 1,024.</summary>
    public int Prompts { get; init; } = 128;
    /// <summary>Target responses per prompt (k); defaults to reward.k so evaluation scores as training rewarded.</summary>
    public int ResponsesPerPrompt { get; init; } = 5;
    /// <summary>Seed prompts shown per few-shot sample.</summary>
    public int FewShotExamples { get; init; } = 3;
    /// <summary>The model whose mean-pooled states embed prompts for diversity; null = the judge (see <see cref="PromptEmbedder"/>).</summary>
    public string? Embedder { get; init; }
    /// <summary>Seeds every method's sampling alike.</summary>
    public long Seed { get; init; } = 17;
}
