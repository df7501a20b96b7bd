using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// Tensor–number ops that keep their TorchSharp <see cref="Scalar"/> alive until libtorch is done with it.
/// <para>
/// Why this exists: TorchSharp 0.107 passes a Scalar to libtorch as a raw handle, with no
/// <c>GC.KeepAlive</c>, and frees it in a finalizer. So every Scalar made on the fly can be finalized
/// while the native op still reads it. That covers implicit conversions (<c>x * 0.5</c>,
/// <c>add_(g, alpha: a)</c>, <c>clamp_min(1)</c>) and the ones TorchSharp makes inside
/// <c>a + b</c> (= <c>add(b, 1)</c>), <c>square()</c> (= <c>pow(2)</c>), <c>arange(n)</c> and
/// its optimizers' <c>step</c>. It needs a GC triggered by another thread at that moment, and it is
/// a use-after-free: libtorch either throws ("Unknown scalar type", "Expected false to be true") or
/// silently uses a wrong number. Both showed up in full test runs. Upstream PRs to dispose those
/// temporaries (dotnet/TorchSharp #1434, #1496) were still open when this was written.
/// </para>
/// <para>
/// Ares code does not create Scalars implicitly. It uses these helpers or a Scalar it owns, held in
/// a static field or a <c>using</c> local. <c>ScalarLifetimeTests</c> enforces this by reading
/// the compiled IL. Each helper issues the same libtorch op as the operator it replaces, with the
/// same value and Scalar type, so the results are bitwise unchanged.
/// </para>
/// </summary>
internal static class ScalarOps
{
    // Static: never collected. Int Scalars, as TorchSharp's own add(b) and square() pass.
    internal static readonly Scalar OneInt = 1.ToScalar();
    static readonly Scalar TwoInt = 2.ToScalar();

    /// <summary>a + b (TorchSharp's operator passes a temporary alpha = 1).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, OneInt);

    /// <summary>a += b in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, OneInt);

    /// <summary>a + alpha·b in place.</summary>
    public static Tensor AddScaledInPlace(this Tensor a, Tensor b, double alpha) => With(alpha, s => a.add_(b, s));

    /// <summary>a², as <c>square()</c> computes it (pow with the integer exponent 2).</summary>
    public static Tensor Squared(this Tensor a) => a.pow(TwoInt);

    public static Tensor Times(this Tensor a, double s) => With(s, k => a.mul(k));

    public static Tensor Times(this Tensor a, long s) => With(s, k => a.mul(k));

    public static Tensor TimesInPlace(this Tensor a, double s) => With(s, k => a.mul_(k));

    public static Tensor DividedBy(this Tensor a, double s) => With(s, k => a.div(k));

    public static Tensor DividedBy(this Tensor a, long s) => With(s, k => a.div(k));

    public static Tensor Plus(this Tensor a, double s) => With(s, k => a.add(k, OneInt));

    public static Tensor PlusInPlace(this Tensor a, double s) => With(s, k => a.add_(k, OneInt));

    public static Tensor Minus(this Tensor a, long s) => With(s, k => a.sub(k));

    /// <summary>s − a.</summary>
    public static Tensor SubtractedFrom(this Tensor a, double s) => With(s, k => a.neg().add_(k, OneInt));

    public static Tensor ClampMin(this Tensor a, double min) => With(min, k => a.clamp_min(k));

    public static Tensor ClampMin(this Tensor a, long min) => With(min, k => a.clamp_min(k));

    public static Tensor GreaterThan(this Tensor a, double s) => With(s, k => a.gt(k));

    public static Tensor AtLeast(this Tensor a, double s) => With(s, k => a.ge(k));

    public static Tensor MaskedFill(this Tensor a, Tensor mask, double value) => With(value, k => a.masked_fill(mask, k));

    public static Tensor MaskedFillInPlace(this Tensor a, Tensor mask, double value) => With(value, k => a.masked_fill_(mask, k));

    public static Tensor FillInPlace(this Tensor a, double value) => With(value, k => a.fill_(k));

    /// <summary>[start, stop) with step 1.</summary>
    public static Tensor Arange(long start, long stop, ScalarType dtype = ScalarType.Int64, Device? device = null)
    {
        using var a = start.ToScalar();
        using var b = stop.ToScalar();
        return arange(a, b, OneInt, dtype, device);
    }

    /// <summary>Runs <paramref name="op"/> on <paramref name="value"/> as a Scalar that lives until op returns.</summary>
    static Tensor With(double value, Func<Scalar, Tensor> op)
    {
        using var k = value.ToScalar();
        return op(k);
    }

    static Tensor With(long value, Func<Scalar, Tensor> op)
    {
        using var k = value.ToScalar();
        return op(k);
    }

    /// <summary>[0, stop) with step 1.</summary>
    public static Tensor Arange(long stop, ScalarType dtype = ScalarType.Int64, Device? device = null) => Arange(0, stop, dtype, device);
}
