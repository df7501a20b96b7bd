using Ares.Models.Nn;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>The inference linear (<see cref="InferenceGemm"/>): its dot kernel against a float64 reference, and the routed call against libtorch's linear.</summary>
public class InferenceGemmTests
{
    static double[] Reference(float[] w, float[] x, int m, int n, int k)
    {
        var y = new double[m * n];
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int i = 0; i < k; i++) s += (double)w[j * k + i] * x[r * k + i];
                y[r * n + j] = s;
            }
        return y;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 5, 17)]
    [InlineData(3, 7, 33)]
    [InlineData(4, 8, 16)]
    [InlineData(5, 130, 512)]
    [InlineData(9, 67, 100)]
    [InlineData(16, 300, 48)]
    [InlineData(70, 65, 64)]
    public unsafe void The_dot_kernels_match_a_float64_reference_on_ragged_shapes_and_write_only_their_slices(int m, int n, int k)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        var w = Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var expected = Reference(w, x, m, n, k);
        int n0 = n / 3, n1 = n - n / 4;                                            // a slice with ragged edges
        var y = Enumerable.Repeat(float.NaN, m * n).ToArray();
        fixed (float* pw = w, px = x, py = y)
        {
            InferenceGemm.Dots(pw, px, py, m, 0, n0, k, n);                        // AVX-512 on the left slice
            InferenceGemm.Dots256(pw, px, py, m, n1, n, k, n);                     // AVX2 on the right one
        }
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++)
            {
                float got = y[r * n + j];
                if (j >= n0 && j < n1) { Assert.True(float.IsNaN(got), $"({r}, {j}) outside the slices was written"); continue; }
                double want = expected[r * n + j];
                Assert.True(Math.Abs(got - want) <= 1e-5 * Math.Sqrt(k) + 1e-5 * Math.Abs(want), $"({r}, {j}): {got} vs {want}");
            }
    }

    [Theory]
    [InlineData(1, 1, 512, 1536, true)]    // batch-1 decode, QKV of the bench model
    [InlineData(16, 1, 1376, 512, false)]  // batch-16 decode, down projection
    [InlineData(4, 16, 512, 200, true)]    // a 64-row prompt, a width that does not split evenly
    [InlineData(1, 65, 64, 128, false)]    // just past the decode limit
    [InlineData(3, 100, 48, 70, true)]     // a prompt: 300 rows
    public void A_routed_linear_matches_libtorch_linear(int batch, int seq, int k, int n, bool withBias)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn(batch, seq, k);
        var w = randn(n, k) * 0.05;
        var b = withBias ? randn(n) : null;
        var expected = nn.functional.linear(x, w, b);
        foreach (var kernel in Enum.GetValues<InferenceGemm.Kernel>())
        {
            bool dots = kernel != InferenceGemm.Kernel.MklSgemm;
            var was = InferenceGemm.SliceKernel;
            InferenceGemm.SliceKernel = kernel;
            try
            {
                var y = InferenceGemm.TryLinear(x, w, b);
                if (batch * seq <= InferenceGemm.MaxRows && (dots || get_num_threads() > 1))
                    Assert.True(y is not null, $"{batch}×{seq} rows should take the inference GEMM ({kernel}, threads: {get_num_threads()})");
                if (y is null) continue;
                Assert.Equal(expected.shape, y.shape);
                float diff = (y - expected).abs().max().item<float>();
                Assert.True(diff < 1e-4f, $"{kernel}: max |Δ| = {diff}");
            }
            finally { InferenceGemm.SliceKernel = was; }
        }
    }

    [Fact]
    public void The_kernel_is_available_here_and_steps_aside_where_it_does_not_apply()
    {
        // Every x86-64 libtorch carries MKL and libgomp: on this CI machine the kernel must be live.
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64)
            Assert.True(InferenceGemm.Available(), "MKL's sgemm_ or libgomp's GOMP_parallel did not resolve in libtorch_cpu");
        using var scope = NewDisposeScope();
        var x = randn(2, 64);
        var w = randn(128, 64);
        Assert.Null(InferenceGemm.TryLinear(x, w, null));                         // autograd on: training goes through libtorch
        using (no_grad())
        {
            Assert.Null(InferenceGemm.TryLinear(x.to_type(ScalarType.BFloat16), w.to_type(ScalarType.BFloat16), null));
            Assert.Null(InferenceGemm.TryLinear(randn(64, 2).t(), w, null));      // x not contiguous
            Assert.Null(InferenceGemm.TryLinear(x, randn(64, 128).t(), null));    // W not contiguous
            Assert.Null(InferenceGemm.TryLinear(randn(2, 63), w, null));           // shapes disagree
            // The fallback helper gives linear's answer either way.
            var viaHelper = InferenceGemm.Linear(randn(64, 2).t(), w);
            Assert.Equal(new long[] { 2, 128 }, viaHelper.shape);
        }
    }
}
