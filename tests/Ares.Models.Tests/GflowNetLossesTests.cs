using Ares.Models.Training;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class GflowNetLossesTests
{
    [Fact]
    public void Trajectory_balance_is_the_mean_squared_residual_and_its_gradient_pushes_log_z_to_balance()
    {
        // Residuals log Z + Σ log P_F − log R: 1 − 2 + 0.5 = −0.5 and 0 − 1 + 1.5 = 0.5 → squares 0.25, 0.25, mean 0.25.
        // ∂L/∂log Z_i = 2·r_i / B = (−0.5, 0.5): the first log Z is too small, the second too large.
        using var logZ = tensor(new float[] { 1, 0 }).requires_grad_();
        using var sumLogPf = tensor(new float[] { -2, -1 });
        using var logR = tensor(new float[] { -0.5f, -1.5f });
        using var loss = GflowNetLosses.TrajectoryBalance(logZ, sumLogPf, logR);
        Assert.Equal(0.25, loss.item<float>(), 6);
        loss.backward();
        var grad = logZ.grad!.data<float>().ToArray();
        Assert.Equal(-0.5, grad[0], 6);
        Assert.Equal(0.5, grad[1], 6);
    }

    [Fact]
    public void Trajectory_balance_is_zero_when_the_sampler_matches_reward_over_z()
    {
        // Two objects with R = 1 and 3, Z = 4: P = 1/4 and 3/4 makes every residual log Z + log P − log R = 0.
        using var logZ = tensor(new float[] { (float)Math.Log(4), (float)Math.Log(4) });
        using var logPf = tensor(new float[] { (float)Math.Log(0.25), (float)Math.Log(0.75) });
        using var logR = tensor(new float[] { 0, (float)Math.Log(3) });
        using var loss = GflowNetLosses.TrajectoryBalance(logZ, logPf, logR);
        Assert.Equal(0, loss.item<float>(), 6);
    }

    [Fact]
    public void Trajectory_balance_refuses_mismatched_shapes()
    {
        using var a = zeros(3);
        using var b = zeros(2);
        var e = Assert.Throws<ArgumentException>(() => GflowNetLosses.TrajectoryBalance(a, a, b));
        Assert.Contains("(2)", e.Message);
    }

    [Fact]
    public void Log_reward_weighs_the_prior_by_gamma_and_the_harm_by_beta_then_divides_by_temperature()
    {
        // (−20 / 1.2 + ln 0.5 / 0.1) / 2 = (−16.6667 − 6.93147) / 2 = −11.79907.
        Assert.Equal(-11.79907, GflowNetLosses.LogReward(-20, Math.Log(0.5), gamma: 1.2, beta: 0.1, temperature: 2), 4);
        Assert.Throws<ArgumentException>(() => GflowNetLosses.LogReward(-1, -1, gamma: 0, beta: 0.1, temperature: 1));
    }
}
