using Ares.Models.Training;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class PolicyLossesTests
{
    static float[] Values(Tensor t) => t.to_type(ScalarType.Float32).data<float>().ToArray();

    static void AssertValues(double[] expected, Tensor actual, int precision = 5)
    {
        var got = Values(actual);
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], got[i], precision);
    }

    [Fact]
    public void Rloo_advantage_is_the_reward_minus_the_mean_of_the_others()
    {
        // Group (1, 2, 3): 1 − (2+3)/2 = −1.5, 2 − (1+3)/2 = 0, 3 − (1+2)/2 = 1.5.
        // Group (0, 0, 6): 0 − (0+6)/2 = −3 (twice), 6 − 0 = 6. Each group sums to 0.
        using var rewards = tensor(new float[] { 1, 2, 3, 0, 0, 6 }).reshape(2, 3);
        using var a = PolicyLosses.RlooAdvantages(rewards);
        AssertValues([-1.5, 0, 1.5, -3, -3, 6], a);
    }

    [Fact]
    public void Grpo_advantage_standardises_within_the_group()
    {
        // Group (1, 2, 3): mean 2, sample std √((1+0+1)/2) = 1 → (−1, 0, 1)/(1 + 1e-4).
        // Group (0, 0, 4): mean 4/3, sample variance ((4/3)²·2 + (8/3)²)/2 = (32/9 + 64/9)/2 = 16/3,
        // std 4/√3 → (−4/3, −4/3, 8/3)·√3/4 = (−1/√3, −1/√3, 2/√3) = (−0.57735, −0.57735, 1.15470) (eps 1e-4 shifts the 5th decimal only slightly).
        // Group (5, 5, 5): std 0 → advantages 0, not NaN.
        using var rewards = tensor(new float[] { 1, 2, 3, 0, 0, 4, 5, 5, 5 }).reshape(3, 3);
        using var a = PolicyLosses.GrpoAdvantages(rewards, eps: 1e-4);
        double s = 4 / Math.Sqrt(3) + 1e-4;
        AssertValues([-1 / 1.0001, 0, 1 / 1.0001, -4.0 / 3 / s, -4.0 / 3 / s, 8.0 / 3 / s, 0, 0, 0], a);
        Assert.Equal(-0.57735, Values(a)[3], 3);
    }

    [Fact]
    public void K3_kl_matches_hand_computed_values_and_is_never_negative()
    {
        // logp = ln ½, ref = ln ¼: d = ref − logp = −ln 2; e^d − d − 1 = ½ + 0.693147 − 1 = 0.193147.
        // logp = ln ¼, ref = ln ½: d = ln 2; 2 − 0.693147 − 1 = 0.306853. Equal log-probs give 0.
        using var logp = tensor(new[] { MathF.Log(0.5f), MathF.Log(0.25f), -1.3f });
        using var refLogp = tensor(new[] { MathF.Log(0.25f), MathF.Log(0.5f), -1.3f });
        using var k3 = PolicyLosses.K3Kl(logp, refLogp);
        AssertValues([0.5 + Math.Log(2) - 1, 2 - Math.Log(2) - 1, 0], k3);
    }

    [Fact]
    public void Masked_mean_and_sum_ignore_masked_positions()
    {
        // Row 0: (1 + 2)/2 = 1.5, sum 3. Row 1: nothing kept → mean 0 (not NaN), sum 0.
        using var v = tensor(new float[] { 1, 2, 3, 4, 5, 6 }).reshape(2, 3);
        using var m = tensor(new[] { true, true, false, false, false, false }).reshape(2, 3);
        using var mean = PolicyLosses.MaskedMean(v, m);
        using var sum = PolicyLosses.MaskedSum(v, m);
        AssertValues([1.5, 0], mean);
        AssertValues([3, 0], sum);
    }

    [Fact]
    public void Policy_gradient_loss_weights_log_probs_by_detached_advantages()
    {
        // Completion 0: log-probs (−1, −2), advantage 2. Completion 1: (−0.5, pad), advantage −1. 2 completions.
        // Summed: (−2·(−3) + 1·(−0.5))/2 = (6 − 0.5)/2 = 2.75; ∂/∂logp_{0,t} = −2/2 = −1, ∂/∂logp_{1,0} = 1/2.
        // Length-normalised: (−2·(−1.5) + 1·(−0.5))/2 = (3 − 0.5)/2 = 1.25.
        using var logp = tensor(new float[] { -1, -2, -0.5f, 0 }).reshape(2, 2).requires_grad_();
        using var refLogp = logp.detach().clone();
        using var mask = tensor(new[] { true, true, true, false }).reshape(2, 2);
        using var advantages = tensor(new float[] { 2, -1 }).requires_grad_();
        using var summed = PolicyLosses.PolicyGradientLoss(logp, refLogp, mask, advantages, beta: 0.5, lengthNormalised: false, completionCount: 2);
        Assert.Equal(2.75, summed.item<float>(), 5);           // ref = policy: k3 = 0 whatever β
        summed.backward();
        AssertValues([-1, -1, 0.5, 0], logp.grad!);
        Assert.Null(advantages.grad);                          // advantages are constants
        using var normalised = PolicyLosses.PolicyGradientLoss(logp, refLogp, mask, advantages, beta: 0, lengthNormalised: true, completionCount: 2);
        Assert.Equal(1.25, normalised.item<float>(), 5);
    }

    [Fact]
    public void Policy_gradient_loss_adds_beta_times_k3_per_token()
    {
        // One completion of one token, advantage 0, logp = ln ¼, ref = ln ½: k3 = 0.306853 (above).
        // β = 0.1 → loss 0.0306853; ∂k3/∂logp = 1 − e^(ref − logp) = 1 − 2 = −1 → gradient −0.1.
        using var logp = tensor(new[] { MathF.Log(0.25f) }).reshape(1, 1).requires_grad_();
        using var refLogp = tensor(new[] { MathF.Log(0.5f) }).reshape(1, 1);
        using var mask = ones(1, 1, dtype: ScalarType.Bool);
        using var advantages = zeros(1);
        using var loss = PolicyLosses.PolicyGradientLoss(logp, refLogp, mask, advantages, beta: 0.1, lengthNormalised: false, completionCount: 1);
        Assert.Equal(0.1 * (1 - Math.Log(2)), loss.item<float>(), 6);
        loss.backward();
        AssertValues([-0.1], logp.grad!);
    }

    [Fact]
    public void Dpo_loss_matches_hand_computed_values()
    {
        // π(c) = −1, π(r) = −2, ref(c) = ref(r) = −1.5, β = 0.5: h = 0.5·((−1 + 1.5) − (−2 + 1.5)) = 0.5·1 = 0.5.
        // DPO: −log σ(0.5) = log(1 + e^−0.5) = 0.474077.
        // cDPO ε = 0.1: 0.9·0.474077 + 0.1·log(1 + e^0.5) = 0.426669 + 0.1·0.974077 = 0.524077.
        // Second pair mirrored (chosen worse): h = −0.5 → log(1 + e^0.5) = 0.974077.
        using var pc = tensor(new float[] { -1, -2 });
        using var pr = tensor(new float[] { -2, -1 });
        using var rc = tensor(new float[] { -1.5f, -1.5f });
        using var rr = tensor(new float[] { -1.5f, -1.5f });
        using var dpo = PolicyLosses.DpoLoss(pc, pr, rc, rr, beta: 0.5);
        AssertValues([0.474077, 0.974077], dpo);
        using var cdpo = PolicyLosses.DpoLoss(pc, pr, rc, rr, beta: 0.5, labelSmoothing: 0.1);
        AssertValues([0.524077, 0.9 * 0.974077 + 0.1 * 0.474077], cdpo);
        Assert.Throws<ArgumentException>(() => PolicyLosses.DpoLoss(pc, pr, rc, rr, beta: 0.5, labelSmoothing: 0.5));
    }
}
