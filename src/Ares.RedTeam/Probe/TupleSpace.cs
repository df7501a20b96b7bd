using Ares.Models.Nn;
using Ares.RedTeam.Catalog;
using static TorchSharp.torch;

namespace Ares.RedTeam.Probe;

/// <summary>
/// The GFlowNet selector's state space: compatible tuples built one component at a time in the fixed
/// order tactic → topic → persona → goal (tactic first: it is the component most likely to decide a
/// failure). A state is a prefix; each state has one parent, so the backward policy is trivial.
/// A choice is allowed when some compatible tuple extends the prefix with it, so every trajectory
/// ends in a compatible tuple, whatever the catalog's only_with / never_with constraints.
/// </summary>
internal sealed class TupleSpace
{
    public static readonly ComponentKind[] Order = [ComponentKind.Tactic, ComponentKind.Topic, ComponentKind.Persona, ComponentKind.Goal];
    public const int Steps = 4;
    /// <summary>Added to the logit of a masked choice: exp of it is 0 in float32.</summary>
    const float Masked = -1e9f;

    readonly string[][] _ids;
    readonly int[] _offsets;
    readonly Dictionary<string, bool[]> _allowed = [];
    readonly List<(int[] Path, int Step)> _states = [];

    /// <summary>Every compatible tuple, in catalog order.</summary>
    public IReadOnlyList<ComponentTuple> Tuples { get; }
    /// <summary>Each tuple's value indices in <see cref="Order"/>, aligned with <see cref="Tuples"/>.</summary>
    public IReadOnlyList<int[]> Paths { get; }
    public IReadOnlyDictionary<ComponentTuple, int> IndexOf { get; }
    /// <summary>Logits per state: one per value of every kind.</summary>
    public int Width { get; }
    /// <summary>Inputs per state: the one-hot of chosen values plus the step.</summary>
    public int Features => Width + Steps;

    public TupleSpace(ComponentCatalog catalog)
    {
        _ids = Order.Select(k => catalog.Entries[k].Select(e => e.Id).ToArray()).ToArray();
        _offsets = new int[Steps];
        for (var t = 1; t < Steps; t++) _offsets[t] = _offsets[t - 1] + _ids[t - 1].Length;
        Width = _offsets[^1] + _ids[^1].Length;
        Tuples = catalog.CompatibleTuples();
        if (Tuples.Count == 0) throw new ArgumentException($"{catalog.Source}: no compatible component tuple to select from");
        var position = _ids.Select(ids => ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i)).ToArray();
        Paths = Tuples.Select(tu => Enumerable.Range(0, Steps).Select(t => position[t][tu[Order[t]]]).ToArray()).ToList();
        IndexOf = Tuples.Select((tu, i) => (tu, i)).ToDictionary(x => x.tu, x => x.i);
        foreach (var path in Paths)
            for (var t = 0; t < Steps; t++)
            {
                var key = Key(path, t);
                if (!_allowed.TryGetValue(key, out var allowed))
                {
                    _allowed[key] = allowed = new bool[_ids[t].Length];
                    _states.Add((path[..t], t));
                }
                allowed[path[t]] = true;
            }
    }

    /// <summary>Values of the step-<paramref name="step"/> kind, in catalog order.</summary>
    public IReadOnlyList<string> Values(int step) => _ids[step];

    /// <summary>The state reached after the first <paramref name="step"/> choices of <paramref name="path"/>.</summary>
    public static string Key(int[] path, int step) => string.Join(',', path.Take(step));

    public ComponentTuple TupleOf(int[] path)
    {
        string Id(ComponentKind k) => _ids[Array.IndexOf(Order, k)][path[Array.IndexOf(Order, k)]];
        return new ComponentTuple(Id(ComponentKind.Topic), Id(ComponentKind.Persona), Id(ComponentKind.Tactic), Id(ComponentKind.Goal));
    }

    /// <summary>Σ_t log P_F(s_{t+1} | s_t) of each tuple's trajectory: (B), differentiable.</summary>
    public Tensor LogProbability(TuplePolicy policy, IReadOnlyList<int> tupleIndices)
    {
        var b = tupleIndices.Count;
        var states = new List<(int[] Path, int Step)>(Steps * b);
        var targets = new long[Steps * b];
        for (var t = 0; t < Steps; t++)
            for (var j = 0; j < b; j++)
            {
                var path = Paths[tupleIndices[j]];
                states.Add((path, t));
                targets[t * b + j] = _offsets[t] + path[t];
            }
        using var scope = NewDisposeScope();
        var logp = MaskedLogSoftmax(policy, states);                                         // (4B, W)
        var chosen = logp.gather(1, tensor(targets).unsqueeze(1)).squeeze(1);               // (4B)
        return chosen.view(Steps, b).sum(dim: 0).MoveToOuterDisposeScope();                     // (B)
    }

    /// <summary>The policy's probabilities at every reachable state, read out once so sampling needs no tensors.</summary>
    public PolicyTable Table(TuplePolicy policy)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var probs = MaskedLogSoftmax(policy, _states).exp().data<float>().ToArray();       // (S·W)
        var table = new Dictionary<string, double[]>(_states.Count);
        for (var s = 0; s < _states.Count; s++)
        {
            var (path, t) = _states[s];
            table[Key(path, t)] = Enumerable.Range(0, _ids[t].Length).Select(v => (double)probs[s * Width + _offsets[t] + v]).ToArray();
        }
        return new PolicyTable(this, table);
    }

    /// <summary>log-softmax over the step's own values, every other logit masked: (N, W).</summary>
    Tensor MaskedLogSoftmax(TuplePolicy policy, IReadOnlyList<(int[] Path, int Step)> states)
    {
        var n = states.Count;
        var x = new float[n * Features];
        var mask = new float[n * Width];
        Array.Fill(mask, Masked);
        for (var r = 0; r < n; r++)
        {
            var (path, t) = states[r];
            for (var u = 0; u < t; u++) x[r * Features + _offsets[u] + path[u]] = 1;
            x[r * Features + Width + t] = 1;
            var allowed = _allowed[Key(path, t)];
            for (var v = 0; v < allowed.Length; v++)
                if (allowed[v]) mask[r * Width + _offsets[t] + v] = 0;
        }
        var logits = policy.forward(tensor(x).view(n, Features));                            // (N, W)
        return logits.Plus(tensor(mask).view(n, Width)).log_softmax(1);                     // (N, W)
    }
}
