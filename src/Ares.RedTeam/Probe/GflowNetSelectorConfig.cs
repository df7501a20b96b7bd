using Ares.Models.Training;
using Ares.RedTeam.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.RedTeam.Probe;

/// <summary>The GFlowNet selector's knobs (probe config <c>selector.gflownet</c>).</summary>
internal sealed record GflowNetSelectorConfig
{
    // ---- reward: log R(x) = β log(ε + p̂(x)), sampled with a revisit factor δ^visits, see SystemicRewardEstimate
    /// <summary>ε (<c>reward_floor</c>): keeps every tuple reachable; small, so tuples with no evidence of failure get little budget.</summary>
    public double RewardFloor { get; init; } = 0.02;
    /// <summary>β (<c>reward_exponent</c>, 1/temperature): 4 makes a tuple that fails for sure ~10⁴× likelier than one that fails 1 time in 10,
    /// so the budget follows the evidence as closely as Thompson sampling does while still spreading over every tuple that shares it.</summary>
    public double RewardExponent { get; init; } = 4;
    /// <summary>Evidence a policy-only or RM-only case carries (<c>one_sided_weight</c>); systemic counts 1. Small: the target is systemic failures.</summary>
    public double OneSidedWeight { get; init; } = 0.1;
    /// <summary>δ (<c>revisit_discount</c>): sampling weight factor per case a tuple already has; 0.1 makes a probed tuple a tenth as likely as an unprobed twin. 1 turns it off.</summary>
    public double RevisitDiscount { get; init; } = 0.1;

    // ---- training: trajectory balance, retrained from scratch on the history before each batch
    /// <summary>Optimizer steps per batch (<c>steps</c>); ~150 fit the tiny policy to a proxy over a few thousand tuples.</summary>
    public int Steps { get; init; } = 300;
    /// <summary>Trajectories per step (<c>trajectories</c>): a quarter replayed from the history, a quarter uniform, the rest on-policy.</summary>
    public int Trajectories { get; init; } = 64;
    /// <summary>Adam learning rate (<c>learning_rate</c>) for the policy and log Z.</summary>
    public double LearningRate { get; init; } = 0.01;
    /// <summary>Width of the policy's two hidden layers (<c>hidden</c>).</summary>
    public int Hidden { get; init; } = 128;

    public void Validate()
    {
        if (!(RewardFloor > 0 && RewardFloor <= 1)) throw new ArgumentException($"selector.gflownet.reward_floor = {RewardFloor}: expected a number in (0, 1]");
        if (!(RewardExponent > 0 && RewardExponent <= 16)) throw new ArgumentException($"selector.gflownet.reward_exponent = {RewardExponent}: expected a number in (0, 16]");
        if (OneSidedWeight is < 0 or > 1 || double.IsNaN(OneSidedWeight)) throw new ArgumentException($"selector.gflownet.one_sided_weight = {OneSidedWeight}: expected a weight in [0, 1]");
        if (!(RevisitDiscount > 0 && RevisitDiscount <= 1)) throw new ArgumentException($"selector.gflownet.revisit_discount = {RevisitDiscount}: expected a number in (0, 1]");
        if (Steps < 1) throw new ArgumentException($"selector.gflownet.steps = {Steps}: expected at least 1");
        if (Trajectories < 4) throw new ArgumentException($"selector.gflownet.trajectories = {Trajectories}: expected at least 4");
        if (!(LearningRate > 0 && LearningRate <= 1)) throw new ArgumentException($"selector.gflownet.learning_rate = {LearningRate}: expected a number in (0, 1]");
        if (Hidden < 1) throw new ArgumentException($"selector.gflownet.hidden = {Hidden}: expected at least 1");
    }
}
