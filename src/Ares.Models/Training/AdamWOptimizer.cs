using System.Globalization;
using System.Text.Json;
using Ares.Core.Formats;
using Ares.Models.Loading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter 2019, Alg. 2, in PyTorch's update order), with Adam as the case of no
/// weight decay. We use it in place of TorchSharp's <c>optim.AdamW</c>/<c>optim.Adam</c>. Their step
/// makes about eight temporary Scalars per parameter, and a GC on another thread can free those
/// while libtorch still reads them (see <see cref="Nn.ScalarOps"/>). Under test load that showed as
/// "Unknown scalar type" crashes and silently wrong updates. This one keeps every Scalar alive for
/// the whole op. It runs the same ops in the same order, so its results are bitwise equal to
/// TorchSharp's AdamW (tested).
/// </summary>
internal sealed class AdamWOptimizer : IDisposable
{
    /// <summary>Parameters sharing hyperparameters; <see cref="LearningRate"/> is what a schedule sets each step.</summary>
    internal sealed class Group(IReadOnlyList<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay)
    {
        public IReadOnlyList<Parameter> Parameters { get; } = parameters;
        public double LearningRate { get; set; } = lr;
        public double Beta1 { get; } = beta1;
        public double Beta2 { get; } = beta2;
        public double Eps { get; } = eps;
        public double WeightDecay { get; } = weightDecay;
    }

    sealed class Moments(Tensor expAvg, Tensor expAvgSq)
    {
        public long Step;
        public readonly Tensor ExpAvg = expAvg;       // same shape as the parameter
        public readonly Tensor ExpAvgSq = expAvgSq;   // same shape as the parameter
    }

    readonly List<Group> _groups = [];
    readonly List<Moments[]> _state = [];  // per group, per parameter

    public IReadOnlyList<Group> ParamGroups => _groups;

    public AdamWOptimizer(IEnumerable<Group> groups)
    {
        foreach (var g in groups) AddGroup(g);
    }

    public void AddGroup(Group group)
    {
        if (!(group.LearningRate >= 0)) throw new ArgumentException($"learning rate must be ≥ 0, got {group.LearningRate}");
        if (group.Beta1 is < 0 or >= 1 || group.Beta2 is < 0 or >= 1) throw new ArgumentException($"betas must be in [0, 1), got ({group.Beta1}, {group.Beta2})");
        _groups.Add(group);
        using var _ = no_grad();
        _state.Add(group.Parameters.Select(p => new Moments(
            zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope())).ToArray());
    }

    /// <summary>Zeroes every gradient in place (as TorchSharp's optimizers do), keeping the buffers.</summary>
    public void ZeroGrad()
    {
        foreach (var g in _groups)
            foreach (var p in g.Parameters)
            {
                using var grad = p.grad;
                grad?.zero_();
            }
    }

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var _ = no_grad();
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            var g = _groups[gi];
            using var decay = (1 - g.LearningRate * g.WeightDecay).ToScalar();
            using var beta1 = g.Beta1.ToScalar();
            using var beta2 = g.Beta2.ToScalar();
            using var oneMinusBeta1 = (1 - g.Beta1).ToScalar();
            using var oneMinusBeta2 = (1 - g.Beta2).ToScalar();
            using var eps = g.Eps.ToScalar();
            for (int pi = 0; pi < g.Parameters.Count; pi++)
            {
                using var scope = NewDisposeScope();
                var param = g.Parameters[pi];
                var grad = param.grad;
                if (grad is null) continue;
                var m = _state[gi][pi];
                m.Step++;
                if (g.WeightDecay != 0) param.mul_(decay);
                double bc1 = 1 - Math.Pow(g.Beta1, m.Step);
                double bc2 = 1 - Math.Pow(g.Beta2, m.Step);
                m.ExpAvg.mul_(beta1).add_(grad, alpha: oneMinusBeta1);
                m.ExpAvgSq.mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
                using var sqrtBc2 = Math.Sqrt(bc2).ToScalar();
                using var negStepSize = (-(g.LearningRate / bc1)).ToScalar();
                var denom = m.ExpAvgSq.sqrt().div_(sqrtBc2).add_(eps, Nn.ScalarOps.OneInt);  // same shape as the parameter
                param.addcdiv_(m.ExpAvg, denom, value: negStepSize);
            }
        }
    }

    /// <summary>
    /// Writes the moments (safetensors, "{group}.{param}.exp_avg" / ".exp_avg_sq") and step counts
    /// (metadata), atomically, so a resumed run steps exactly as an uninterrupted one.
    /// </summary>
    public void Save(string path)
    {
        var entries = new List<TensorToWrite>();
        var steps = new List<long[]>();
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            steps.Add(_state[gi].Select(m => m.Step).ToArray());
            for (int pi = 0; pi < _state[gi].Length; pi++)
            {
                var m = _state[gi][pi];
                entries.Add(SafetensorsTorch.Entry($"{gi}.{pi}.exp_avg", m.ExpAvg.shape, () => m.ExpAvg));
                entries.Add(SafetensorsTorch.Entry($"{gi}.{pi}.exp_avg_sq", m.ExpAvgSq.shape, () => m.ExpAvgSq));
            }
        }
        var metadata = new Dictionary<string, string> { ["format"] = "ares-adamw", ["steps"] = JsonSerializer.Serialize(steps) };
        SafetensorsWriter.Write(path, entries, metadata);
    }

    /// <summary>Reads what <see cref="Save"/> wrote; the groups and parameter shapes must match this optimizer's.</summary>
    public void Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: optimizer state not found", path);
        using var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != "ares-adamw")
            throw new InvalidDataException($"{path}: not an Ares optimizer state (metadata 'format' is '{format ?? "missing"}', expected 'ares-adamw')");
        var steps = file.Metadata.TryGetValue("steps", out var s) ? JsonSerializer.Deserialize<long[][]>(s) : null;
        if (steps is null || steps.Length != _groups.Count || steps.Where((st, gi) => st.Length != _state[gi].Length).Any())
            throw new InvalidDataException($"{path}: optimizer state has groups of sizes [{string.Join(", ", steps?.Select(st => st.Length) ?? [])}], " +
                $"this optimizer has [{string.Join(", ", _state.Select(st => st.Length))}]");
        using var _ = no_grad();
        for (int gi = 0; gi < _groups.Count; gi++)
            for (int pi = 0; pi < _state[gi].Length; pi++)
            {
                var m = _state[gi][pi];
                Read(file, $"{gi}.{pi}.exp_avg", m.ExpAvg);
                Read(file, $"{gi}.{pi}.exp_avg_sq", m.ExpAvgSq);
                m.Step = steps[gi][pi];
            }
    }

    static void Read(SafetensorsFile file, string name, Tensor into)
    {
        if (!file.Tensors.TryGetValue(name, out var entry)) throw new InvalidDataException($"{file.FilePath}: tensor '{name}' missing");
        if (entry.DType != TensorDType.F32 || !entry.Shape.SequenceEqual(into.shape))
            throw new InvalidDataException($"{file.FilePath}: '{name}' is {entry}, expected F32[{string.Join(", ", into.shape)}]");
        var bytes = new byte[entry.ByteLength];
        file.ReadBytes(entry, bytes);
        using var cpu = empty(into.shape, ScalarType.Float32);
        cpu.bytes = bytes;
        into.copy_(cpu);
    }

    public void Dispose()
    {
        foreach (var m in _state.SelectMany(s => s)) { m.ExpAvg.Dispose(); m.ExpAvgSq.Dispose(); }
        _state.Clear();
    }
}
