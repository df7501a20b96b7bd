using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// y = x Wᵀ (+ b) without autograd, for the shapes generation and scoring run: W's output rows are split
/// across libtorch's own OpenMP team, and each thread computes its slice of y in place with an AVX-512
/// dot-product kernel (<see cref="Dots"/>), an AVX2 one (<see cref="Dots256"/>), or else a single-threaded MKL sgemm.
///
/// Why: a decode step multiplies few rows (one per sequence) by every weight matrix, so it streams the
/// weights from memory for little arithmetic. libtorch's sgemm (MKL, statically linked into libtorch_cpu)
/// kept that on one thread here, and on non-Intel CPUs MKL runs its generic kernels (perf of a batch-1
/// decode on Zen 4: 62 % of samples in <c>mkl_blas_def_xsgemv</c>). Measured on the 29.5 M bench model
/// (2 Zen 4 vCPUs, 3 Dec 2026, `ares bench generate`, interleaved with <c>ARES_INFERENCE_GEMM=0</c>):
/// batch-1 generation 140–145 → 347–358 tok/s, batch-16 generation 1,177–1,195 → 2,076–2,242 tok/s, prefill
/// of 16 × 16 tokens 3,429–3,474 → 5,864–5,914 tok/s (README, "Generation against llama.cpp").
///
/// The threads must be libtorch's OpenMP team: a separate worker pool was measured slower than plain
/// <c>linear</c> end to end, because the team's threads spin-wait on the same cores between ops.
///
/// Applies to fp32 CPU tensors with contiguous x and W and no autograd, at most <see cref="MaxRows"/> rows
/// (larger inputs up to <see cref="MaxInputFloatsNonIntel"/> where MKL has no native kernels); otherwise null and
/// the caller uses <c>linear</c>. Each output element is one dot product in float32 (16 or 8 lanes, summed at
/// the end), so results match <c>linear</c> to float rounding, not bit for bit.
/// </summary>
internal static unsafe class InferenceGemm
{
    /// <summary>Rows (B·T) up to which the split runs on any CPU: decode steps and short prompts.</summary>
    internal const int MaxRows = 64;

    /// <summary>
    /// Where MKL dispatches its generic kernels (not GenuineIntel) the split also takes larger inputs (prefill), up to
    /// this many input floats (12 MB: every weight tile re-reads x, so it must stay in cache). Measured there up to
    /// 2.8 M floats (the down projection of 16 × 128 prompt tokens, 2,048 × 1,376): prefill 5,258–5,293 vs
    /// 3,495–3,643 tok/s with MKL's own threading, and 3,742 with a 1 M-float cap that left that projection to MKL.
    /// On Intel, MKL's native kernels keep large products (not measured against this kernel: no Intel machine in this window).
    /// </summary>
    internal const long MaxInputFloatsNonIntel = 3 << 20;

    /// <summary>Process-wide switch (<c>ARES_INFERENCE_GEMM=0</c> turns it off) for A/B measurement against <c>linear</c>.</summary>
    internal static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("ARES_INFERENCE_GEMM") != "0";

    /// <summary>The kernels a slice can run: the dot-product kernels by vector width, or MKL's sgemm.</summary>
    internal enum Kernel { MklSgemm = 0, Dots256 = 1, Dots512 = 2 }

    /// <summary>The best kernel this CPU runs natively (AVX-512, else AVX2 with FMA, else MKL); tests set each in turn.
    /// <c>ARES_INFERENCE_GEMM=avx2|mkl</c> picks one for A/B measurement.</summary>
    internal static Kernel SliceKernel { get; set; } = ChooseKernel(Environment.GetEnvironmentVariable("ARES_INFERENCE_GEMM"));

    static Kernel ChooseKernel(string? setting)
    {
        bool avx512 = Vector512.IsHardwareAccelerated, avx2 = Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;
        return setting?.ToLowerInvariant() switch
        {
            "mkl" => Kernel.MklSgemm,
            "avx2" when avx2 => Kernel.Dots256,
            _ => avx512 ? Kernel.Dots512 : avx2 ? Kernel.Dots256 : Kernel.MklSgemm,
        };
    }

    static readonly bool IntelCpu = IsGenuineIntel();
    static int _available = -1; // -1 unknown, 0 no, 1 yes
    static delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void> _gompParallel;
    static delegate* unmanaged<int> _ompThreadNum, _ompTeamSize;

    /// <summary><c>linear(x, weight, bias)</c>, by this kernel where it applies.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) => TryLinear(x, weight, bias) ?? nn.functional.linear(x, weight, bias);

    /// <summary>Computes the linear layer if this kernel applies; null means "use linear".</summary>
    public static Tensor? TryLinear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!Enabled || is_grad_enabled() || x.dtype != ScalarType.Float32 || weight.dtype != ScalarType.Float32
            || x.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU || weight.dim() != 2 || x.dim() < 1) return null;
        long k = weight.shape[1], n = weight.shape[0];
        if (x.shape[^1] != k || k == 0 || k > int.MaxValue / 16 || n > int.MaxValue) return null;
        long m = x.numel() / k;
        if (m < 1 || (m > MaxRows && (IntelCpu || m * k > MaxInputFloatsNonIntel)) || !x.is_contiguous() || !weight.is_contiguous()) return null;
        if (bias is not null && (bias.dtype != ScalarType.Float32 || bias.numel() != n || !bias.is_contiguous())) return null;
        int parts = (int)Math.Max(1, Math.Min(get_num_threads(), n / 64));
        var kernel = SliceKernel;
        if ((parts < 2 && kernel == Kernel.MklSgemm) || !Available()) return null;
        var y = empty([.. x.shape[..^1], n], ScalarType.Float32);                         // (..., n)
        var job = new Job { M = (int)m, N = (int)n, K = (int)k, X = Data(x), W = Data(weight), Y = Data(y), Parts = parts, Kernel = kernel };
        if (parts == 1) RunSlices(&job);
        // The slices run on libtorch's own OpenMP team (the threads its ops use, already awake between ops).
        else _gompParallel(&RunPart, (IntPtr)(&job), (uint)parts, 0);
        if (job.Done != parts) throw new InvalidOperationException($"InferenceGemm: {parts - job.Done} of {parts} slices did not run");
        if (bias is not null) y.PlusInPlace(bias);
        return y;
    }

    static bool IsGenuineIntel()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported) return false;
        var (_, ebx, ecx, edx) = System.Runtime.Intrinsics.X86.X86Base.CpuId(0, 0);
        return ebx == 0x756e6547 && edx == 0x49656e69 && ecx == 0x6c65746e; // "Genu" "ineI" "ntel"
    }

    static float* Data(Tensor t) => (float*)Native.THSTensor_data(t.Handle);

    /// <summary>True once MKL's sgemm and libgomp's entry points resolve in the loaded libtorch (false on builds without them).</summary>
    internal static bool Available()
    {
        if (_available >= 0) return _available == 1;
        try
        {
            using (zeros(1)) { } // libtorch loaded
            var torchCpu = NativeLibrary.Load("libtorch_cpu", typeof(InferenceGemm).Assembly, null);
            // dlsym on libtorch_cpu's handle also searches its dependencies: the libgomp it was linked with.
            if (!NativeLibrary.TryGetExport(torchCpu, "GOMP_parallel", out var parallel)
                || !NativeLibrary.TryGetExport(torchCpu, "omp_get_thread_num", out var threadNum)
                || !NativeLibrary.TryGetExport(torchCpu, "omp_get_num_threads", out var teamSize)) { _available = 0; return false; }
            _gompParallel = (delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void>)parallel;
            _ompThreadNum = (delegate* unmanaged<int>)threadNum;
            _ompTeamSize = (delegate* unmanaged<int>)teamSize;
            Native.MKL_Set_Num_Threads_Local(Native.MKL_Set_Num_Threads_Local(1));
            // A 1×1×1 product proves the BLAS entry point resolves before any real call depends on it.
            float a = 2, b = 3, c = 0;
            Native.Sgemm(1, 1, 1, &a, 1, &b, 1, &c, 1);
            _available = c == 6 ? 1 : 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _available = 0; }
        return _available == 1;
    }

    /// <summary>One product split into <see cref="Parts"/> column slices of y, each a multiple of 16 wide where it can be.</summary>
    struct Job
    {
        public int M, N, K, Parts, Done;
        public Kernel Kernel;
        public float* X, W, Y;
    }

    [UnmanagedCallersOnly]
    static void RunPart(IntPtr data) => RunSlices((Job*)data);

    /// <summary>This thread's slices of the job: every team-size-th slice from its OpenMP thread number (0 of 1 outside a region).</summary>
    static void RunSlices(Job* job)
    {
        try
        {
            // OpenMP may grant fewer threads than asked (nested in another region, a thread limit): each
            // thread takes every nth slice, so all slices run whatever the team size.
            int previous = Native.MKL_Set_Num_Threads_Local(1); // this thread's slices are sequential
            try
            {
                int step = ((job->N + job->Parts - 1) / job->Parts + 15) / 16 * 16;          // slice width, a multiple of 16
                for (int part = _ompThreadNum(), team = _ompTeamSize(); part < job->Parts; part += team)
                {
                    int n0 = Math.Min(job->N, part * step), n1 = Math.Min(job->N, n0 + step);
                    if (n0 < n1)
                    {
                        if (job->Kernel == Kernel.Dots512) Dots(job->W, job->X, job->Y, job->M, n0, n1, job->K, job->N);
                        else if (job->Kernel == Kernel.Dots256) Dots256(job->W, job->X, job->Y, job->M, n0, n1, job->K, job->N);
                        // Column-major BLAS view of row-major y (M×N) = x (M×K) · Wᵀ: yᵀ (N×M) = W (as K×N, transposed) · xᵀ (K×M).
                        else Native.Sgemm(n1 - n0, job->M, job->K, job->W + (long)n0 * job->K, job->K, job->X, job->K, job->Y + n0, job->N);
                    }
                    Interlocked.Increment(ref job->Done);
                }
            }
            finally { Native.MKL_Set_Num_Threads_Local(previous); }
        }
        catch { } // never unwind into native OpenMP code; the caller sees the missing slices
    }

    /// <summary>
    /// y[r, n] = W[n, :] · x[r, :] for rows r &lt; m and n in [n0, n1) (y row stride ldy): blocks of 4 input rows × 4
    /// weight rows (16 accumulators), so each weight row is read from memory once and from L1 for the other input
    /// rows; leftover input rows one at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Dots(float* w, float* x, float* y, int m, int n0, int n1, int k, int ldy)
    {
        const int Tile = 64; // weight rows per tile: 4 × 64 × K floats stay in L1/L2 while every input row passes
        for (int t0 = n0; t0 < n1; t0 += Tile)
        {
            int t1 = Math.Min(n1, t0 + Tile), r = 0;
            for (; r + 4 <= m; r += 4) Dots4x4(w, x + (long)r * k, y + (long)r * ldy, t0, t1, k, ldy);
            for (; r < m; r++) RowDots(w, x + (long)r * k, y + (long)r * ldy, t0, t1, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dots4x4(float* w, float* x, float* y, int n0, int n1, int k, int ldy)
    {
        int k16 = k & ~15, n = n0;
        float* x0 = x, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        for (; n + 4 <= n1; n += 4)
        {
            float* r0 = w + (long)n * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
            Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
            Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
            Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
            Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
            for (int i = 0; i < k16; i += 16)
            {
                var w0 = Vector512.Load(r0 + i); var w1 = Vector512.Load(r1 + i);
                var w2 = Vector512.Load(r2 + i); var w3 = Vector512.Load(r3 + i);
                var v = Vector512.Load(x0 + i);
                a00 = Vector512.FusedMultiplyAdd(w0, v, a00); a01 = Vector512.FusedMultiplyAdd(w1, v, a01);
                a02 = Vector512.FusedMultiplyAdd(w2, v, a02); a03 = Vector512.FusedMultiplyAdd(w3, v, a03);
                v = Vector512.Load(x1 + i);
                a10 = Vector512.FusedMultiplyAdd(w0, v, a10); a11 = Vector512.FusedMultiplyAdd(w1, v, a11);
                a12 = Vector512.FusedMultiplyAdd(w2, v, a12); a13 = Vector512.FusedMultiplyAdd(w3, v, a13);
                v = Vector512.Load(x2 + i);
                a20 = Vector512.FusedMultiplyAdd(w0, v, a20); a21 = Vector512.FusedMultiplyAdd(w1, v, a21);
                a22 = Vector512.FusedMultiplyAdd(w2, v, a22); a23 = Vector512.FusedMultiplyAdd(w3, v, a23);
                v = Vector512.Load(x3 + i);
                a30 = Vector512.FusedMultiplyAdd(w0, v, a30); a31 = Vector512.FusedMultiplyAdd(w1, v, a31);
                a32 = Vector512.FusedMultiplyAdd(w2, v, a32); a33 = Vector512.FusedMultiplyAdd(w3, v, a33);
            }
            Store4(y, n, k16, k, r0, r1, r2, r3, x0, a00, a01, a02, a03);
            Store4(y + ldy, n, k16, k, r0, r1, r2, r3, x1, a10, a11, a12, a13);
            Store4(y + 2L * ldy, n, k16, k, r0, r1, r2, r3, x2, a20, a21, a22, a23);
            Store4(y + 3L * ldy, n, k16, k, r0, r1, r2, r3, x3, a30, a31, a32, a33);
        }
        for (; n < n1; n++)
            for (int r = 0; r < 4; r++) RowDots(w, x + (long)r * k, y + (long)r * ldy, n, n + 1, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store4(float* y, int n, int k16, int k, float* r0, float* r1, float* r2, float* r3, float* x,
        Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3)
    {
        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        for (int i = k16; i < k; i++) { s0 += r0[i] * x[i]; s1 += r1[i] * x[i]; s2 += r2[i] * x[i]; s3 += r3[i] * x[i]; }
        y[n] = s0; y[n + 1] = s1; y[n + 2] = s2; y[n + 3] = s3;
    }

    /// <summary>
    /// One input row: y[n] = W[n, :] · x for n in [n0, n1), four weight rows at a time sharing each load of x,
    /// AVX-512 FMAs, one pass over W. A single decode row is a matrix–vector product bounded by memory
    /// bandwidth; MKL's sgemv takes its generic path on non-Intel CPUs ("mkl_blas_def_xsgemv": 62 % of a
    /// batch-1 decode's samples under perf here) and reached 15 GB/s where this loop reads 30–36 GB/s on one core.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowDots(float* w, float* x, float* y, int n0, int n1, int k)
    {
        int k16 = k & ~15, n = n0;
        for (; n + 4 <= n1; n += 4)
        {
            float* r0 = w + (long)n * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < k16; i += 16)
            {
                var xv = Vector512.Load(x + i);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(r0 + i), xv, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(r1 + i), xv, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(r2 + i), xv, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(r3 + i), xv, a3);
            }
            float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
            for (int i = k16; i < k; i++) { s0 += r0[i] * x[i]; s1 += r1[i] * x[i]; s2 += r2[i] * x[i]; s3 += r3[i] * x[i]; }
            y[n] = s0; y[n + 1] = s1; y[n + 2] = s2; y[n + 3] = s3;
        }
        for (; n < n1; n++)
        {
            float* r0 = w + (long)n * k;
            Vector512<float> a0 = default;
            for (int i = 0; i < k16; i += 16) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(r0 + i), Vector512.Load(x + i), a0);
            float s0 = Vector512.Sum(a0);
            for (int i = k16; i < k; i++) s0 += r0[i] * x[i];
            y[n] = s0;
        }
    }

    /// <summary>
    /// <see cref="Dots"/> with 256-bit vectors (AVX2 + FMA, no AVX-512: Zen 2/3, most Intel client CPUs): blocks of
    /// 2 input rows × 4 weight rows, so the 8 accumulators, 4 weight vectors and the input vector fit AVX2's 16 registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Dots256(float* w, float* x, float* y, int m, int n0, int n1, int k, int ldy)
    {
        const int Tile = 64;
        for (int t0 = n0; t0 < n1; t0 += Tile)
        {
            int t1 = Math.Min(n1, t0 + Tile), r = 0;
            for (; r + 2 <= m; r += 2) Dots2x4x256(w, x + (long)r * k, y + (long)r * ldy, t0, t1, k, ldy);
            for (; r < m; r++) Dots2x4x256(w, x + (long)r * k, y + (long)r * ldy, t0, t1, k, ldy, single: true);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dots2x4x256(float* w, float* x, float* y, int n0, int n1, int k, int ldy, bool single = false)
    {
        int k8 = k & ~7, n = n0;
        float* x0 = x, x1 = single ? x : x + k;
        float* s = stackalloc float[8];
        for (; n < n1; n += 4)
        {
            int rows = Math.Min(4, n1 - n);
            // Past the slice's last row, re-read its last row: the loads stay in bounds and the sums are dropped.
            float* r0 = w + (long)n * k, r1 = w + (long)(n + Math.Min(1, rows - 1)) * k, r2 = w + (long)(n + Math.Min(2, rows - 1)) * k, r3 = w + (long)(n + Math.Min(3, rows - 1)) * k;
            Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
            Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
            for (int i = 0; i < k8; i += 8)
            {
                var w0 = Vector256.Load(r0 + i); var w1 = Vector256.Load(r1 + i);
                var w2 = Vector256.Load(r2 + i); var w3 = Vector256.Load(r3 + i);
                var v = Vector256.Load(x0 + i);
                a00 = Vector256.FusedMultiplyAdd(w0, v, a00); a01 = Vector256.FusedMultiplyAdd(w1, v, a01);
                a02 = Vector256.FusedMultiplyAdd(w2, v, a02); a03 = Vector256.FusedMultiplyAdd(w3, v, a03);
                v = Vector256.Load(x1 + i);
                a10 = Vector256.FusedMultiplyAdd(w0, v, a10); a11 = Vector256.FusedMultiplyAdd(w1, v, a11);
                a12 = Vector256.FusedMultiplyAdd(w2, v, a12); a13 = Vector256.FusedMultiplyAdd(w3, v, a13);
            }
            s[0] = Vector256.Sum(a00); s[1] = Vector256.Sum(a01); s[2] = Vector256.Sum(a02); s[3] = Vector256.Sum(a03);
            s[4] = Vector256.Sum(a10); s[5] = Vector256.Sum(a11); s[6] = Vector256.Sum(a12); s[7] = Vector256.Sum(a13);
            for (int i = k8; i < k; i++)
            {
                s[0] += r0[i] * x0[i]; s[1] += r1[i] * x0[i]; s[2] += r2[i] * x0[i]; s[3] += r3[i] * x0[i];
                s[4] += r0[i] * x1[i]; s[5] += r1[i] * x1[i]; s[6] += r2[i] * x1[i]; s[7] += r3[i] * x1[i];
            }
            for (int j = 0; j < rows; j++)
            {
                y[n + j] = s[j];
                if (!single) y[ldy + n + j] = s[4 + j];
            }
        }
    }

    static class Native
    {
        // Both live in libtorch_cpu (MKL statically linked, its BLAS and service symbols exported).
        [DllImport("libtorch_cpu", EntryPoint = "sgemm_")]
        static extern void sgemm(byte* transa, byte* transb, int* m, int* n, int* k, float* alpha, float* a, int* lda, float* b, int* ldb, float* beta, float* c, int* ldc);

        [DllImport("libtorch_cpu")]
        public static extern int MKL_Set_Num_Threads_Local(int n);

        [DllImport("LibTorchSharp")]
        public static extern IntPtr THSTensor_data(IntPtr handle);

        /// <summary>Column-major C (m×n) = Aᵀ · B with A stored k×m (lda) and B k×n (ldb): BLAS sgemm("T", "N").</summary>
        public static void Sgemm(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc)
        {
            byte t = (byte)'T', nt = (byte)'N';
            float alpha = 1, beta = 0;
            sgemm(&t, &nt, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
        }
    }
}
