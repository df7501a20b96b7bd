using Ares.Models.Nn;
using Ares.Models.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>
/// TorchSharp Scalars that die while libtorch still reads them (see <see cref="ScalarOps"/>): the IL
/// rule that keeps them out of Ares.Models, proof that the rule catches what it must, and the
/// ScalarOps helpers and <see cref="AdamWOptimizer"/> computing exactly what TorchSharp's did.
/// </summary>
public class ScalarLifetimeTests
{
    static readonly string TorchSharpDll = typeof(Scalar).Assembly.Location;

    [Fact]
    public void Ares_Models_creates_no_Scalar_that_can_die_mid_op()
    {
        var hazards = ScalarLifetimeScan.Hazards(typeof(ScalarOps).Assembly.Location, TorchSharpDll);
        Assert.True(hazards.Count == 0, "use ScalarOps or an owned Scalar instead of:\n" + string.Join("\n", hazards));
    }

    // Known hazards and their fixed forms, compiled into this test assembly for the scan to judge.
    static Tensor ImplicitAlpha(Tensor a, Tensor b) => a.add(b, alpha: 0.5);
    static Tensor OperatorTimesDouble(Tensor a) => a * 0.5;
    static Tensor OperatorPlus(Tensor a, Tensor b) => a + b;
    static Tensor SquareCall(Tensor a) => a.square();
    static Tensor ArangeCall(long n) => arange(n, dtype: ScalarType.Int64);
    static void TorchSharpAdam(Tensor p) { using var o = optim.Adam([new TorchSharp.Modules.Parameter(p)], 1e-3); o.step(); }
    static Tensor Fixed(Tensor a, Tensor b) => a.Plus(b).Times(0.5).Squared().Plus(ScalarOps.Arange(3).to_type(ScalarType.Float32));
    static Tensor OwnedScalar(Tensor a) { using var s = 0.5.ToScalar(); return a.mul(s); }

    [Fact]
    public void The_scan_flags_each_kind_of_hazard_and_accepts_the_fixed_forms()
    {
        var hazards = ScalarLifetimeScan.Hazards(typeof(ScalarLifetimeTests).Assembly.Location, TorchSharpDll)
            .Where(h => h.StartsWith(typeof(ScalarLifetimeTests).FullName + "::", StringComparison.Ordinal)).ToList();
        foreach (var name in new[] { nameof(ImplicitAlpha), nameof(OperatorTimesDouble), nameof(OperatorPlus), nameof(SquareCall), nameof(ArangeCall), nameof(TorchSharpAdam) })
            Assert.Contains(hazards, h => h.Contains($"::{name}(", StringComparison.Ordinal));
        Assert.DoesNotContain(hazards, h => h.Contains("::Fixed(", StringComparison.Ordinal) || h.Contains("::OwnedScalar(", StringComparison.Ordinal));
    }

    [Fact]
    public void ScalarOps_compute_bitwise_what_the_operators_they_replace_compute()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var a = randn(5, 7);
        var b = randn(5, 7);
        var m = rand(5, 7) > 0.5;
        void Same(Tensor expected, Tensor actual) => Assert.True(expected.eq(actual).all().item<bool>());
        Same(a + b, a.Plus(b));
        Same(a * 0.37, a.Times(0.37));
        Same(a / 3.1, a.DividedBy(3.1));
        Same(a / 4L, a.DividedBy(4L));
        Same(a + 1e-5, a.Plus(1e-5));
        Same(1 - a, a.SubtractedFrom(1));
        Same(a - 1, a.Minus(1L));
        Same(a.square(), a.Squared());
        Same(a.clamp_min(0.25), a.ClampMin(0.25));
        Same(a.gt(0), a.GreaterThan(0));
        Same(a.ge(0.5), a.AtLeast(0.5));
        Same(a.masked_fill(m, float.NegativeInfinity), a.MaskedFill(m, double.NegativeInfinity));
        Same(arange(2, 9, dtype: ScalarType.Int64), ScalarOps.Arange(2, 9));
        Same(a.clone().add_(b, alpha: 0.3), a.clone().AddScaledInPlace(b, 0.3));
    }

    [Fact]
    public void ScalarOps_stay_exact_while_another_thread_forces_garbage_collections()
    {
        // The failure this guards against needs a GC from another thread during the native op. With
        // implicit Scalars, a loop like this measured 135 errors in 1.27 M calls (20 s).
        using var scope = NewDisposeScope();
        var p = zeros(64, 64);
        var g = ones(64, 64);
        bool stop = false;
        var collector = new Thread(() => { while (!Volatile.Read(ref stop)) { _ = new byte[4096]; GC.Collect(); } }) { IsBackground = true };
        collector.Start();
        const int n = 40_000;
        try
        {
            for (int i = 0; i < n; i++) p.AddScaledInPlace(g, 0.25);
        }
        finally { Volatile.Write(ref stop, true); collector.Join(); }
        Assert.Equal(n * 0.25f, p.max().item<float>());
        Assert.Equal(n * 0.25f, p.min().item<float>());
    }
}
