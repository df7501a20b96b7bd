using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// The math of GFlowNet training as small pure functions, tested against hand-computed values:
/// the trajectory-balance loss and the red-teaming log-reward it is trained against.
/// </summary>
internal static class GflowNetLosses
{
    /// <summary>
    /// Trajectory balance (Malkin et al. 2022, eq. 14): for a complete trajectory ending in x,
    /// (log Z + Σ_t log P_F(s_{t+1} | s_t) − log R(x) − Σ_t log P_B(s_t | s_{t+1}))², averaged over the
    /// batch. Objects built left to right (token sequences, component tuples in a fixed order) have
    /// one parent per state, so log P_B = 0 and drops out. <paramref name="logZ"/> (B) is the
    /// (context-conditional) log-partition estimate, <paramref name="sumLogPf"/> (B) the trajectory's
    /// summed forward log-probabilities, <paramref name="logReward"/> (B) log R(x); → scalar.
    /// At the optimum every residual is 0, which makes P(x) = R(x) / Z exactly.
    /// </summary>
    public static Tensor TrajectoryBalance(Tensor logZ, Tensor sumLogPf, Tensor logReward)
    {
        if (logZ.shape.Length != 1 || !logZ.shape.SequenceEqual(sumLogPf.shape) || !logZ.shape.SequenceEqual(logReward.shape))
            throw new ArgumentException($"trajectory balance needs three (B) tensors, got log Z {Shape(logZ)}, Σ log P_F {Shape(sumLogPf)}, log R {Shape(logReward)}");
        using var scope = NewDisposeScope();
        var residual = logZ.Plus(sumLogPf) - logReward;                                     // (B)
        return residual.Squared().mean().MoveToOuterDisposeScope();                          // ()
    }

    /// <summary>
    /// The red-teaming GFlowNet's log-reward (Lee et al. 2024, eq. 5 with the public code's
    /// temperature): (log p_ref(x) / γ + mean_k log p_harm(y_k | x) / β) / T. <paramref name="refLogProb"/>
    /// is the prompt's summed log-probability under the reference (fluency prior),
    /// <paramref name="meanLogHarm"/> the mean over k target responses of log p(harmful).
    /// </summary>
    public static double LogReward(double refLogProb, double meanLogHarm, double gamma, double beta, double temperature)
    {
        if (!(gamma > 0) || !(beta > 0) || !(temperature > 0))
            throw new ArgumentException($"log-reward needs γ, β and T > 0, got γ = {gamma}, β = {beta}, T = {temperature}");
        return (refLogProb / gamma + meanLogHarm / beta) / temperature;
    }

    static string Shape(Tensor t) => "(" + string.Join(", ", t.shape) + ")";
}
