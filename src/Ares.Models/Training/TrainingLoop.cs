using Ares.Models.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// The optimisation every trainer shares: AdamW over the model's trainable (fp32) parameters, the LR
/// schedule, one optimizer step around the trainer's own gradient pass, and the loop over shuffled
/// batches. Responsible for the optimizer and its lifetime; does not own the model, know the loss,
/// or build metrics beyond grad_norm and lr. Trainers hold one (composition, not a base class).
/// </summary>
internal sealed class TrainingLoop : IDisposable
{
    readonly CausalLM _model;
    readonly OptimizationConfig _config;
    readonly LrSchedule _schedule;
    readonly AdamWOptimizer _optimizer;
    readonly List<Parameter> _trainable;
    readonly double[] _peakLr;   // per param group, in the optimizer's order

    /// <summary>
    /// Refuses non-fp32 trainable parameters (pure-bf16 AdamW would round most updates away).
    /// <paramref name="extra"/> adds parameters outside the model (e.g. a GFlowNet's log Z head) as one
    /// more AdamW group with its own peak learning rate, following the same schedule shape and not
    /// counted in the model's gradient clipping.
    /// </summary>
    public TrainingLoop(CausalLM model, OptimizationConfig config, ExtraParameters? extra = null)
    {
        _trainable = Gradients.TrainableFp32(model);
        _model = model;
        _config = config;
        _schedule = config.LrSchedule;
        _optimizer = OptimizerFactory.AdamW(model, config.LearningRate, config.WeightDecay, config.Betas, config.Eps);
        var peaks = _optimizer.ParamGroups.Select(_ => config.LearningRate).ToList();
        if (extra is not null)
        {
            if (extra.Parameters.Count == 0) throw new ArgumentException("extra parameters: the group is empty");
            if (!(extra.LearningRate > 0) || double.IsInfinity(extra.LearningRate)) throw new ArgumentException($"extra parameters: learning rate must be > 0 and finite, got {extra.LearningRate}");
            var (beta1, beta2) = config.Betas;
            _optimizer.AddGroup(new(extra.Parameters, extra.LearningRate, beta1, beta2, config.Eps, 0.0));
            peaks.Add(extra.LearningRate);
        }
        _peakLr = [.. peaks];
    }

    /// <summary>
    /// One optimizer step in its own dispose scope: zero the gradients, let
    /// <paramref name="accumulateGradients"/> run the forward/backward passes, clip the global norm,
    /// set step <paramref name="step"/>'s learning rate and step. Returns the pass's result (which must
    /// hold no tensors: they die with the scope), the gradient norm before clipping and the lr used.
    /// </summary>
    public (T Result, double GradNorm, double Lr) Step<T>(int step, Func<T> accumulateGradients)
    {
        using var scope = NewDisposeScope();
        _optimizer.ZeroGrad();
        var result = accumulateGradients();
        double gradNorm = Gradients.ClipGlobalNorm(_trainable, _config.MaxGradNorm);
        double lr = _schedule.At(step);
        int g = 0;
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr * (_peakLr[g++] / _config.LearningRate);
        _optimizer.Step();
        return (result, gradNorm, lr);
    }

    /// <summary>
    /// Runs MaxSteps calls of <paramref name="step"/>, each on the next BatchSize × GradientAccumulation
    /// items of <paramref name="data"/> (reshuffled each pass, seeded by Seed), and reports each step's
    /// metrics to <paramref name="onStep"/>. With <paramref name="trainMode"/> the model is in train mode
    /// (dropout on) meanwhile and restored after; trainers that run their passes in eval mode pass false.
    /// Gradients are cleared at the end, even on failure. A resumed run passes <paramref name="startStep"/>
    /// (the batches of earlier steps are drawn and skipped, so step i sees the batch it would have seen);
    /// <paramref name="endStep"/> stops early (exclusive; default MaxSteps).
    /// </summary>
    public void Run<T>(IReadOnlyList<T> data, Func<int, List<T>, IReadOnlyDictionary<string, double>> step,
        Action<int, IReadOnlyDictionary<string, double>>? onStep, bool trainMode, int startStep = 0, int? endStep = null)
    {
        var batches = new ShuffledBatches<T>(data, _config.Seed);
        int perStep = _config.BatchSize * _config.GradientAccumulation;
        for (int i = 0; i < startStep; i++) batches.Next(perStep);
        int end = Math.Min(_config.MaxSteps, endStep ?? int.MaxValue);
        bool wasTraining = _model.training;
        if (trainMode) _model.train();
        try
        {
            for (int i = startStep; i < end; i++)
            {
                // Not inside onStep?.Invoke(...): with no callback its arguments, the step itself, would be skipped.
                var metrics = step(i, batches.Next(perStep));
                onStep?.Invoke(i, metrics);
            }
        }
        finally
        {
            _optimizer.ZeroGrad();
            if (trainMode) _model.train(wasTraining);
        }
    }

    /// <summary>Writes AdamW's moments and step counts, so a resumed run steps exactly as an uninterrupted one.</summary>
    public void SaveOptimizer(string path) => _optimizer.Save(path);

    /// <summary>Reads what <see cref="SaveOptimizer"/> wrote; the parameter groups must match this loop's.</summary>
    public void LoadOptimizer(string path) => _optimizer.Load(path);

    public void Dispose() => _optimizer.Dispose();
}

/// <summary>Parameters a trainer updates besides the model's own, at their own peak learning rate (no weight decay).</summary>
internal sealed record ExtraParameters(IReadOnlyList<Parameter> Parameters, double LearningRate);
