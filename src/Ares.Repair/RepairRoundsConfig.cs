using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Models.Lora;
using Ares.RedTeam.Benchmarks;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Repair;

/// <summary>
/// `ares repair`: discover → repair RM → repair policy → re-discover, in rounds. Builds on a probe
/// config (which names the policy, RM, judge, mentor, store and discovery budget); adds the number
/// of rounds, the stopping rule, the data that keeps capability and the repair settings. Every
/// field is checked; errors name the file and the field. Relative paths resolve against this file's folder.
/// </summary>
internal sealed record RepairRoundsConfig
{
    public required string Source { get; init; }
    public required ProbeConfig Probe { get; init; }
    /// <summary>Folder for each round's repaired models and the rounds summary.</summary>
    public required string OutDir { get; init; }
    /// <summary>Repair rounds at most; discovery runs once more than this (the last re-discovery).</summary>
    public int Rounds { get; init; } = 3;
    /// <summary>
    /// Stop when a re-discovery's systemic count is not below (1 − this) × the previous one's: 0 stops
    /// as soon as systemic failures stop falling; 0.2 also stops when they fall by less than 20 %.
    /// </summary>
    public double MinRelativeDrop { get; init; }
    /// <summary>A tactic kept out of all repair data, to see whether repair generalises to it (null = none).</summary>
    public string? HeldOutTactic { get; init; }
    /// <summary>JSONL of benign prompts ({"prompt": …}) mixed into policy repair; null = the sandbox world's (required otherwise).</summary>
    public string? BenignPromptsPath { get; init; }
    /// <summary>JSONL of the RM's original preferences ({"prompt", "chosen", "rejected"}) for retention; null = the sandbox world's.</summary>
    public string? RetentionPairsPath { get; init; }
    public RewardRepairConfig Reward { get; init; } = SandboxRepairDefaults.Reward;
    public PolicyRepairConfig Policy { get; init; } = SandboxRepairDefaults.Policy;
    /// <summary>
    /// Checkpoint-selection validation sizes: training attack prompts (seeded pick of those found so far) and
    /// benign lookalikes held out of the training mix. Selection runs when the policy is a sandbox world (its
    /// corpus gives the lookalikes) or <see cref="LookalikePromptsPath"/> is given; otherwise it is off, and the run says so.
    /// </summary>
    public int ValidationAttacks { get; init; } = 64;
    public int ValidationLookalikes { get; init; } = 64;
    /// <summary>JSONL of benign prompts that look like attacks ({"prompt": …}); a seeded pick of them validates checkpoints and is kept out of the benign training prompts.</summary>
    public string? LookalikePromptsPath { get; init; }
    /// <summary>Re-evaluate on the sandbox world's held-out sets before the first and after the last round (default on for a sandbox world).</summary>
    public bool HeldOutEvaluation { get; init; }
    /// <summary>A benchmark eval of the policy before the first and after the last round (runs RUN.eval-before, RUN.eval-after in the store); null = none.</summary>
    public EvalConfig? Eval { get; init; }
    /// <summary>The config as written, normalised: saved in the out folder and compared on --resume.</summary>
    public required string NormalisedJson { get; init; }

    public static RepairRoundsConfig Load(string path)
    {
        return Parse(ConfigReader.ReadFile(path, "repair config", m => new ProbeConfigException(m)), path);
    }

    public static RepairRoundsConfig Parse(string json, string source)
    {
        var (root, r) = ConfigReader.Open(json, source, m => new ProbeConfigException(m));
        r.Known(root, "", "probe", "out", "rounds", "min_relative_drop", "held_out_tactic", "benign_prompts", "retention_pairs", "reward", "policy",
            "validation", "held_out_eval", "eval");

        var probePath = r.PathOf(r.Str(root, "probe", "probe") ?? throw r.Error("probe", "is required (the probe config that names the models, judge and discovery budget)"));
        if (!File.Exists(probePath)) throw r.Error("probe", $"names '{probePath}', which does not exist");
        var probe = ProbeConfig.Load(probePath);
        if (probe.Policy is EndpointModelSpec) throw new ProbeConfigException($"{probe.Source}: field 'policy' is an endpoint; repair trains the policy, so it must be a local model or \"sandbox:NAME\"");

        var reward = r.Obj(root, "reward");
        var policy = r.Obj(root, "policy");
        r.Known(reward, "reward.", "learning_rate", "steps", "batch", "retention_share", "margin", "centering");
        r.Known(policy, "policy.", "method", "learning_rate", "steps", "batch", "completions", "beta", "max_new_tokens", "mix_size", "benign_share", "lora_rank");
        var dr = SandboxRepairDefaults.Reward;
        var dp = SandboxRepairDefaults.Policy;
        var rewardConfig = dr with
        {
            RetentionShare = r.Dbl(reward, "retention_share", "reward.retention_share", 0, 1) ?? dr.RetentionShare,
            SafetyMargin = r.Dbl(reward, "margin", "reward.margin", 0, 1e3) ?? dr.SafetyMargin,
            Training = dr.Training with
            {
                LearningRate = r.Dbl(reward, "learning_rate", "reward.learning_rate", 1e-9, 1) ?? dr.Training.LearningRate,
                MaxSteps = r.Int(reward, "steps", "reward.steps", 1) ?? dr.Training.MaxSteps,
                BatchSize = r.Int(reward, "batch", "reward.batch", 1) ?? dr.Training.BatchSize,
                CenterRewardsCoefficient = r.Dbl(reward, "centering", "reward.centering", 0, 10) ?? dr.Training.CenterRewardsCoefficient,
            },
        };
        var method = r.Str(policy, "method", "policy.method") switch
        {
            null => dp.Method,
            "rloo" => PolicyRepairMethod.Rloo,
            "grpo" => PolicyRepairMethod.Grpo,
            "dpo" => PolicyRepairMethod.Dpo,
            var m => throw r.Error("policy.method", $"must be rloo, grpo or dpo, got '{m}'"),
        };
        int? rank = r.Int(policy, "lora_rank", "policy.lora_rank", 0);
        var policyConfig = dp with
        {
            Method = method,
            MixSize = r.Int(policy, "mix_size", "policy.mix_size", 1) ?? dp.MixSize,
            BenignShare = r.Dbl(policy, "benign_share", "policy.benign_share", 0, 0.99) ?? dp.BenignShare,
            Lora = rank switch { null => dp.Lora, 0 => null, int k => new LoraConfig { Rank = k, Alpha = 2 * k, Dropout = 0 } },
            Rl = dp.Rl with
            {
                LearningRate = r.Dbl(policy, "learning_rate", "policy.learning_rate", 1e-9, 1) ?? dp.Rl.LearningRate,
                MaxSteps = r.Int(policy, "steps", "policy.steps", 1) ?? dp.Rl.MaxSteps,
                BatchSize = r.Int(policy, "batch", "policy.batch", 1) ?? dp.Rl.BatchSize,
                CompletionsPerPrompt = r.Int(policy, "completions", "policy.completions", 2) ?? dp.Rl.CompletionsPerPrompt,
                Beta = r.Dbl(policy, "beta", "policy.beta", 0, 10) ?? dp.Rl.Beta,
                MaxNewTokens = r.Int(policy, "max_new_tokens", "policy.max_new_tokens", 1) ?? dp.Rl.MaxNewTokens,
            },
        };
        policyConfig = policyConfig with
        {
            Dpo = policyConfig.Dpo with { LearningRate = policyConfig.Rl.LearningRate, MaxSteps = policyConfig.Rl.MaxSteps, BatchSize = policyConfig.Rl.BatchSize },
            DpoMaxNewTokens = policyConfig.Rl.MaxNewTokens,
        };

        string? FileOf(string key)
        {
            if (r.Str(root, key, key) is not string p) return null;
            var full = r.PathOf(p);
            return File.Exists(full) ? full : throw r.Error(key, $"names '{full}', which does not exist");
        }
        var validation = r.Obj(root, "validation");
        r.Known(validation, "validation.", "attacks", "lookalikes", "lookalike_prompts");
        string? lookalikes = r.Str(validation, "lookalike_prompts", "validation.lookalike_prompts") is string lp ? r.PathOf(lp) : null;
        if (lookalikes is not null && !File.Exists(lookalikes)) throw r.Error("validation.lookalike_prompts", $"names '{lookalikes}', which does not exist");
        bool sandboxPair = probe.Policy is SandboxModelSpec sp && probe.RewardModel is SandboxModelSpec sr && sp.World == sr.World;
        bool heldOutEval = r.Bool(root, "held_out_eval", "held_out_eval") ?? sandboxPair;
        if (heldOutEval && !sandboxPair)
            throw r.Error("held_out_eval", "needs the policy and the reward model to be the same sandbox world (its held-out sets are what it evaluates on)");
        var config = new RepairRoundsConfig
        {
            Source = source,
            Probe = probe,
            OutDir = r.PathOf(r.Str(root, "out", "out") ?? probe.RunId + "-repair"),
            Rounds = r.Int(root, "rounds", "rounds", 1) ?? 3,
            MinRelativeDrop = r.Dbl(root, "min_relative_drop", "min_relative_drop", 0, 0.99) ?? 0,
            HeldOutTactic = r.Str(root, "held_out_tactic", "held_out_tactic"),
            BenignPromptsPath = FileOf("benign_prompts"),
            RetentionPairsPath = FileOf("retention_pairs"),
            Reward = rewardConfig,
            Policy = policyConfig,
            ValidationAttacks = r.Int(validation, "attacks", "validation.attacks", 1) ?? 64,
            ValidationLookalikes = r.Int(validation, "lookalikes", "validation.lookalikes", 1) ?? 64,
            LookalikePromptsPath = lookalikes,
            HeldOutEvaluation = heldOutEval,
            Eval = ReadEval(r, r.Obj(root, "eval"), source, probe),
            NormalisedJson = root.ToJsonString() + "\nprobe=" + probe.NormalisedJson,
        };
        if (config.BenignPromptsPath is null && probe.Policy is not SandboxModelSpec)
            throw r.Error("benign_prompts", "is required when the policy is not a sandbox world (a JSONL of {\"prompt\": …} rows that keep the policy helpful)");
        if (config.RetentionPairsPath is null && probe.RewardModel is not SandboxModelSpec)
            throw r.Error("retention_pairs", "is required when the reward model is not a sandbox world (a JSONL of the RM's original {\"prompt\", \"chosen\", \"rejected\"} pairs)");
        try { config.Reward.Validate(); config.Policy.Validate(); }
        catch (ArgumentException e) { throw new ProbeConfigException($"{source}: {e.Message}"); }
        return config;
    }

    /// <summary>The "eval" section: ares eval's benchmark, judge, samples, seed, batch, limit and sampling (read by its parser); the policy is the repair's, the store the probe's.</summary>
    static EvalConfig? ReadEval(ConfigReader r, JsonObject? section, string source, ProbeConfig probe)
    {
        if (section is null) return null;
        r.Known(section, "eval.", EvalConfig.SectionFields);
        var eval = EvalConfig.Section(section, r, "eval.", source, probe.RunId + ".eval", probe.StorePath, probe.SandboxRoot, probe.Policy);
        if (!File.Exists(eval.BenchmarkPath)) throw r.Error("eval.benchmark", $"names '{eval.BenchmarkPath}', which does not exist");
        return eval;
    }
}
