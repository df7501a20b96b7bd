using Ares.Models.Loading;
using Ares.Models.Lora;
using Ares.Models.Training;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Repair;

/// <summary>What a reward-model repair did: where the repaired RM is, the data it saw, and its last step's metrics.</summary>
internal sealed record RewardRepairResult(string OutputDir, int SafetyPairs, int RetentionPairs, int Steps, IReadOnlyDictionary<string, double> LastMetrics);

/// <summary>
/// Stage 1 of ARES repair: fine-tunes a reward model on discovery's safety pairs mixed with
/// retention pairs (<see cref="RewardRepairConfig"/>) and saves it as an HF directory. Responsible
/// for turning cases into encoded pairs, the mixed batches, the optional LoRA round trip and the
/// metric stream; does not own the loss or optimizer (<see cref="RewardTrainer"/>), loading the model,
/// or judging the result (<see cref="RewardEvaluation"/>).
/// </summary>
internal static class RewardRepair
{
    /// <summary>The run store phase the repair's metrics are appended under.</summary>
    public const string MetricPhase = "rm_repair";

    /// <summary>
    /// Repairs on the cases whose class is in <see cref="RewardRepairConfig.RepairClasses"/> (see
    /// <see cref="RunOnPairs"/> for the rest).
    /// </summary>
    public static RewardRepairResult Run(LoadedModel rewardModel, IReadOnlyList<ProbeCase> cases, IReadOnlyList<TextPreference> retention,
        string outputDir, RewardRepairConfig config, Action<int, IReadOnlyDictionary<string, double>>? onStep = null,
        RunStore? store = null, string? runId = null)
    {
        config.Validate();
        return RunOnPairs(rewardModel, RepairPreferences.SafetyPairs(cases, config.RepairClasses), retention, outputDir, config, onStep, store, runId);
    }

    /// <summary>
    /// Trains <paramref name="rewardModel"/> in place (it must be fp32 with a one-output score head;
    /// the caller keeps ownership and afterwards holds the repaired weights) for Training.MaxSteps steps
    /// on batches mixing <paramref name="safety"/> and <paramref name="retention"/> pairs, each encoded
    /// as the RM scores an exchange (<see cref="LoadedModel.EncodeExchange"/>), then saves it to
    /// <paramref name="outputDir"/> (replaced atomically; tokenizer files copied from the source).
    /// Each step's metrics (rm/loss, rm/accuracy, rm/margin, rm/lr, rm/grad_norm, rm/tokens_per_s) go
    /// to <paramref name="onStep"/> and, given a store and run id, to the store under <see cref="MetricPhase"/>.
    /// </summary>
    public static RewardRepairResult RunOnPairs(LoadedModel rewardModel, IReadOnlyList<TextPreference> safety, IReadOnlyList<TextPreference> retention,
        string outputDir, RewardRepairConfig config, Action<int, IReadOnlyDictionary<string, double>>? onStep = null,
        RunStore? store = null, string? runId = null)
    {
        config.Validate();
        if ((store is null) != (runId is null)) throw new ArgumentException("metrics go to a run store only with both the store and a run id");
        if (Path.GetFullPath(outputDir).TrimEnd(Path.DirectorySeparatorChar) == Path.GetFullPath(rewardModel.SourcePath).TrimEnd(Path.DirectorySeparatorChar))
            throw new ArgumentException($"{outputDir}: the repaired reward model must not overwrite the one it was loaded from (keep it for the before/after comparison)");
        if (store is not null) store.GetRun(runId!); // fail before training, not at the first metric
        var t = config.Training;

        PreferencePair Encode(TextPreference p, double margin) =>
            new(rewardModel.EncodeExchange(p.Prompt, p.Chosen), rewardModel.EncodeExchange(p.Prompt, p.Rejected)) { Margin = margin };
        var safetyIds = safety.Select(p => Encode(p, config.SafetyMargin)).ToList();
        var retentionIds = config.RetentionShare > 0 ? retention.Select(p => Encode(p, 0)).ToList() : [];
        var mix = new RetentionMix<PreferencePair>(safetyIds, retentionIds, config.RetentionShare, t.Seed);

        var model = rewardModel.Model;
        if (config.Lora is { } lora) LoraAdapters.Apply(model, lora);
        Determinism.SeedGlobal(t.Seed);
        bool wasTraining = model.training;
        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        model.train();   // LoRA dropout on; the sandbox Llama has no other dropout
        try
        {
            using var trainer = new RewardTrainer(model, t);
            for (int step = 0; step < t.MaxSteps; step++)
            {
                var metrics = trainer.Step(step, mix.Next(t.BatchSize * t.GradientAccumulation))
                    .ToDictionary(kv => $"rm/{kv.Key}", kv => kv.Value);
                onStep?.Invoke(step, metrics);
                store?.AppendMetrics(runId!, MetricPhase, step, metrics);
                last = metrics;
            }
        }
        finally
        {
            model.zero_grad();
            model.train(wasTraining);
        }
        if (config.Lora is not null) LoraAdapters.Merge(model);   // a plain model: what every RM consumer loads
        HfModelSaver.Save(rewardModel, outputDir);
        return new RewardRepairResult(Path.GetFullPath(outputDir), safetyIds.Count, retentionIds.Count, t.MaxSteps, last);
    }
}
