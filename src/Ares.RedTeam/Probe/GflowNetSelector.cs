using Ares.Models.Training;
using Ares.RedTeam.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.RedTeam.Probe;

/// <summary>
/// Discovery's selector as a GFlowNet (beyond the paper): objects are compatible component tuples,
/// built in the fixed order tactic → topic → persona → goal with every choice that leaves no
/// compatible completion masked; the reward is the estimated probability of a systemic failure
/// (<see cref="SystemicRewardEstimate"/>). Trained to sample x with probability R(x)/Z, it spreads the
/// budget over every tuple in proportion to how likely it is to fail systemically, where Thompson
/// sampling's arg-max keeps returning the single best tuple: more <i>distinct</i> systemic failures.
/// <para>
/// Before each batch a fresh policy (seeded from the seed and the history's size) is trained with
/// trajectory balance (<see cref="GflowNetLosses.TrajectoryBalance"/>) on trajectories that are
/// replayed from the history, drawn uniformly, or drawn from the policy itself (TB is valid off-policy,
/// and all three are scored by the same reward). A share <c>selector.exploration</c> of the cases is
/// still drawn uniformly. Choices for case i use a generator seeded by (seed, i) over the trained
/// policy's probability table, so a batch re-plans exactly on resume (same machine, same thread count).
/// </para>
/// </summary>
internal sealed class GflowNetSelector : ITupleSelector
{
    readonly SelectorConfig _config;
    readonly TupleSpace _space;

    public GflowNetSelector(ComponentCatalog catalog, SelectorConfig config)
    {
        config.Validate();
        _config = config;
        _space = new TupleSpace(catalog);
    }

    internal TupleSpace Space => _space;

    public IReadOnlyList<ComponentTuple> Select(IReadOnlyList<int> indices, IEnumerable<ProbeCase> history, long seed)
    {
        var past = history.ToList();
        // No evidence yet: every tuple has the same reward, and R(x)/Z is the uniform distribution.
        var plan = past.Any(c => SystemicRewardEstimate.Evidence(c.Class, 0) is not null) ? Train(past, seed) : null;
        return indices.Select(i =>
        {
            var rng = Seeds.Rng(seed, i, 0x6f10);
            var uniform = rng.NextDouble() < _config.Exploration || plan is null;
            return uniform ? _space.Tuples[rng.Next(_space.Tuples.Count)] : plan!.Sample(rng);
        }).ToList();
    }

    /// <summary>Trains a fresh policy on the history and returns its probability table (with the reward it was trained on).</summary>
    internal GflowNetPlan Train(IReadOnlyList<ProbeCase> history, long seed)
    {
        var g = _config.GflowNet;
        var p = SystemicRewardEstimate.Probabilities(_space.Tuples, history, g.OneSidedWeight);
        var visits = SystemicRewardEstimate.Visits(_space.Tuples, history);
        var logR = p.Select(x => SystemicRewardEstimate.LogReward(x, g)).ToArray();
        var replay = history.Where(c => SystemicRewardEstimate.Evidence(c.Class, 0) is not null && _space.IndexOf.ContainsKey(c.Components))
            .Select(c => _space.IndexOf[c.Components]).Distinct().Order().ToArray();

        var rng = Seeds.Rng(seed, history.Count, 0x6f11);
        using var policy = new TuplePolicy(_space.Features, g.Hidden, _space.Width, rng);
        using (no_grad())
        {
            // log Z starts at its exact value when the tuples can be enumerated; training refines it.
            var max = logR.Max();
            Ares.Models.Nn.ScalarOps.FillInPlace(policy.logZ, max + Math.Log(logR.Sum(x => Math.Exp(x - max))));
        }
        using var optimizer = new AdamWOptimizer([new(policy.parameters().ToList(), g.LearningRate, 0.9, 0.999, 1e-8, 0)]);  // Adam
        var table = _space.Table(policy);
        double loss = double.NaN;
        var nReplay = replay.Length == 0 ? 0 : g.Trajectories / 4;
        var nUniform = g.Trajectories / 4;
        for (var step = 0; step < g.Steps; step++)
        {
            if (step > 0 && step % 10 == 0) table = _space.Table(policy);   // on-policy draws use a table ≤ 10 steps stale (still valid for TB)
            var batch = new int[g.Trajectories];
            for (var b = 0; b < batch.Length; b++)
                batch[b] = b < nReplay ? replay[rng.Next(replay.Length)]
                         : b < nReplay + nUniform ? rng.Next(_space.Tuples.Count)
                         : _space.IndexOf[table.Sample(rng)];
            using var scope = NewDisposeScope();
            var sumLogPf = _space.LogProbability(policy, batch);                              // (B)
            var logReward = tensor(batch.Select(i => (float)logR[i]).ToArray());             // (B)
            var tb = GflowNetLosses.TrajectoryBalance(policy.logZ.expand(batch.Length), sumLogPf, logReward);
            optimizer.ZeroGrad();
            tb.backward();
            optimizer.Step();
            loss = tb.item<float>();
        }
        return new GflowNetPlan(_space, _space.Table(policy).Probabilities, p, logR, visits, g.RevisitDiscount, policy.logZ.item<float>(), loss);
    }
}

/// <summary>A trained selector policy: its probability table, the reward and loss it ended with, and the revisit factor.</summary>
internal sealed record GflowNetPlan(TupleSpace Space, IReadOnlyDictionary<string, double[]> Probabilities,
    IReadOnlyList<double> SystemicProbability, IReadOnlyList<double> LogReward, IReadOnlyList<int> Visits, double RevisitDiscount,
    double LogZ, double FinalLoss)
{
    /// <summary>Gives up re-drawing after this many rejections (only when nearly every likely tuple was probed many times).</summary>
    const int MaxDraws = 1000;

    /// <summary>
    /// x ∝ P_θ(x) δ^{v_x}: draw from the policy, accept with probability δ^{v_x}. Exact rejection
    /// sampling, since δ^{v_x} ≤ 1; the last draw is kept if none is accepted.
    /// </summary>
    public ComponentTuple Sample(Random rng)
    {
        var table = new PolicyTable(Space, Probabilities);
        var x = table.Sample(rng);
        for (var draw = 1; draw < MaxDraws && rng.NextDouble() >= Math.Pow(RevisitDiscount, Visits[Space.IndexOf[x]]); draw++)
            x = table.Sample(rng);
        return x;
    }

    /// <summary>The policy's P_θ(x) (before the revisit factor) for every tuple of <see cref="TupleSpace.Tuples"/>, in order.</summary>
    public double[] Distribution() => Space.Paths.Select(path =>
    {
        var p = 1.0;
        for (var t = 0; t < TupleSpace.Steps; t++) p *= Probabilities[TupleSpace.Key(path, t)][path[t]];
        return p;
    }).ToArray();
}

/// <summary>Per reachable prefix, the probability of each value of the next kind (0 where masked).</summary>
internal sealed record PolicyTable(TupleSpace Space, IReadOnlyDictionary<string, double[]> Probabilities)
{
    public ComponentTuple Sample(Random rng)
    {
        var path = new int[TupleSpace.Steps];
        for (var t = 0; t < TupleSpace.Steps; t++)
        {
            var probs = Probabilities[TupleSpace.Key(path, t)];
            var u = rng.NextDouble();
            var v = 0;
            double acc = 0;
            var last = 0;
            for (; v < probs.Length; v++)
            {
                if (probs[v] <= 0) continue;
                last = v;
                acc += probs[v];
                if (u < acc) break;
            }
            path[t] = v < probs.Length ? v : last;   // rounding left u above the total: the last allowed value
        }
        return Space.TupleOf(path);
    }
}
