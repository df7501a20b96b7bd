using System.Buffers.Binary;

namespace Ares.Core.Formats;

/// <summary>
/// fp32 → ggml blocks for writing GGUF files: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K.
/// What must be exact is dequantisation (<see cref="GgufQuants"/>); these quantisers only need to be
/// close, and the tests bound their error.
/// </summary>
/// <remarks>
/// The 32-weight types follow llama.cpp's reference quantisers (quantize_row_q4_0_ref …): one scale
/// from the block's extreme (Q4_0/Q5_0, signed so the extreme lands on code 0), or its min and
/// max (Q4_1/Q5_1); Q8_0 matches quantize_row_q8_0_ref bit for bit. The K-quants are simpler than
/// llama.cpp's: Q4_K/Q5_K fit each sub-block's scale and min by unweighted least squares over 21
/// candidate grids (llama.cpp: make_qkx2_quants, weighted by |x|, then importance matrices when given),
/// and Q6_K takes each sub-block's scale from its max |x| (llama.cpp: make_qx_quants' search), so
/// their bytes differ from llama-quantize's for the same weights and Q6_K's error is somewhat larger.
/// </remarks>
internal static class GgufQuantizers
{
    public static readonly IReadOnlyList<TensorDType> Types =
    [
        TensorDType.Q4_0, TensorDType.Q4_1, TensorDType.Q5_0, TensorDType.Q5_1, TensorDType.Q8_0,
        TensorDType.Q4_K, TensorDType.Q5_K, TensorDType.Q6_K,
    ];

    public static bool CanQuantize(TensorDType t) => Types.Contains(t);

    /// <summary>Quantises whole blocks of <paramref name="src"/> into <paramref name="dst"/> (exactly their bytes).</summary>
    public static void Quantize(TensorDType t, ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (!CanQuantize(t)) throw new NotSupportedException($"Ares cannot quantise to {t} (it can: {string.Join(", ", Types)})");
        var (n, bytes) = GgufQuants.BlockOf(t)!.Value;
        if (src.Length % n != 0) throw new ArgumentException($"{t} needs a multiple of {n} values, got {src.Length}");
        int blocks = src.Length / n;
        if (dst.Length != (long)blocks * bytes) throw new ArgumentException($"{t} of {src.Length} values needs {(long)blocks * bytes} bytes, got {dst.Length}");
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * n, n);
            var y = dst.Slice(b * bytes, bytes);
            y.Clear();
            switch (t)
            {
                case TensorDType.Q4_0: QuantizeSymmetric(x, y, 4); break;
                case TensorDType.Q5_0: QuantizeSymmetric(x, y, 5); break;
                case TensorDType.Q4_1: QuantizeMinMax(x, y, 4); break;
                case TensorDType.Q5_1: QuantizeMinMax(x, y, 5); break;
                case TensorDType.Q8_0: QuantizeQ8_0(x, y); break;
                case TensorDType.Q4_K: QuantizeQ45_K(x, y, 4); break;
                case TensorDType.Q5_K: QuantizeQ45_K(x, y, 5); break;
                case TensorDType.Q6_K: QuantizeQ6_K(x, y); break;
            }
        }
    }

    static void WriteHalf(Span<byte> y, int at, float v) => BinaryPrimitives.WriteUInt16LittleEndian(y[at..], BitConverter.HalfToUInt16Bits((Half)v));

    /// <summary>Writes 32 codes of 4 or 5 bits in the Q4_0/Q5_0 layout: nibbles of element j and j+16 share byte j; fifth bits in a u32.</summary>
    static void PackLegacy(ReadOnlySpan<int> q, Span<byte> qs, Span<byte> qh)
    {
        uint high = 0;
        for (int j = 0; j < 16; j++)
        {
            qs[j] = (byte)((q[j] & 0xF) | (q[j + 16] & 0xF) << 4);
            high |= (uint)(q[j] >> 4 & 1) << j | (uint)(q[j + 16] >> 4 & 1) << (j + 16);
        }
        if (!qh.IsEmpty) BinaryPrimitives.WriteUInt32LittleEndian(qh, high);
    }

    /// <summary>Q4_0/Q5_0: d = extreme / −2^(bits−1), so the largest-magnitude weight maps to code 0; q = trunc(x/d + 2^(bits−1) + ½), capped.</summary>
    static void QuantizeSymmetric(ReadOnlySpan<float> x, Span<byte> y, int bits)
    {
        int offset = 1 << (bits - 1), top = (1 << bits) - 1;
        float amax = 0, extreme = 0;
        foreach (float v in x) if (MathF.Abs(v) > amax) { amax = MathF.Abs(v); extreme = v; }
        float d = extreme / -offset, id = d != 0 ? 1 / d : 0;
        WriteHalf(y, 0, d);
        Span<int> q = stackalloc int[GgufQuants.QK];
        for (int j = 0; j < q.Length; j++) q[j] = Math.Min(top, (int)(x[j] * id + (offset + 0.5f)));
        if (bits == 4) PackLegacy(q, y[2..], default);
        else PackLegacy(q, y[6..], y.Slice(2, 4));
    }

    /// <summary>Q4_1/Q5_1: m = min, d = (max − min)/(2^bits − 1), q = trunc((x − m)/d + ½), capped.</summary>
    static void QuantizeMinMax(ReadOnlySpan<float> x, Span<byte> y, int bits)
    {
        int top = (1 << bits) - 1;
        float min = float.MaxValue, max = float.MinValue;
        foreach (float v in x) { min = MathF.Min(min, v); max = MathF.Max(max, v); }
        float d = (max - min) / top, id = d != 0 ? 1 / d : 0;
        WriteHalf(y, 0, d);
        WriteHalf(y, 2, min);
        Span<int> q = stackalloc int[GgufQuants.QK];
        for (int j = 0; j < q.Length; j++) q[j] = Math.Clamp((int)((x[j] - min) * id + 0.5f), 0, top);
        if (bits == 4) PackLegacy(q, y[4..], default);
        else PackLegacy(q, y[8..], y.Slice(4, 4));
    }

    /// <summary>Q8_0 exactly as quantize_row_q8_0_ref: d = max|x| / 127 (fp16), q = round-half-away(x / d) with the fp32 d.</summary>
    static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        float amax = 0;
        foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
        float d = amax / 127, id = d != 0 ? 1 / d : 0;
        WriteHalf(y, 0, d);
        for (int j = 0; j < GgufQuants.QK; j++) y[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
    }

    /// <summary>
    /// Q4_K/Q5_K: each sub-block of 32 gets a scale and min from <see cref="FitSubBlock"/>;
    /// both are stored as 6-bit fractions of the largest (super-scales d = max scale/63, dmin = max min/63),
    /// then codes are rounded against the stored (fp16 · 6-bit) scale and min, as llama.cpp's last step does.
    /// </summary>
    static void QuantizeQ45_K(ReadOnlySpan<float> x, Span<byte> y, int bits)
    {
        int top = (1 << bits) - 1;
        Span<float> scale = stackalloc float[8], min = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            (scale[j], min[j]) = FitSubBlock(x.Slice(32 * j, 32), top);
            maxScale = MathF.Max(maxScale, scale[j]);
            maxMin = MathF.Max(maxMin, min[j]);
        }
        var scales = y.Slice(4, 12);
        Span<int> ls = stackalloc int[8], lm = stackalloc int[8];
        for (int j = 0; j < 8; j++)
        {
            ls[j] = maxScale > 0 ? Math.Min(63, (int)MathF.Round(63 * scale[j] / maxScale)) : 0;
            lm[j] = maxMin > 0 ? Math.Min(63, (int)MathF.Round(63 * min[j] / maxMin)) : 0;
            if (j < 4) { scales[j] = (byte)ls[j]; scales[j + 4] = (byte)lm[j]; }
        }
        for (int j = 4; j < 8; j++) // the upper four keep their low nibbles in byte j+4 and their top bits in bytes j−4 and j
        {
            scales[j + 4] = (byte)((ls[j] & 0xF) | (lm[j] & 0xF) << 4);
            scales[j - 4] |= (byte)((ls[j] >> 4) << 6);
            scales[j] |= (byte)((lm[j] >> 4) << 6);
        }
        WriteHalf(y, 0, maxScale / 63);
        WriteHalf(y, 2, maxMin / 63);
        float d = GgufQuants.Half(y, 0), dmin = GgufQuants.Half(y, 2);

        Span<int> q = stackalloc int[GgufQuants.QK_K];
        for (int j = 0; j < 8; j++)
        {
            var (sc, m) = GgufQuants.ScaleMinK4(j, scales);
            float dj = d * sc, mj = dmin * m;
            for (int i = 32 * j; i < 32 * j + 32; i++)
                q[i] = dj == 0 ? 0 : Math.Clamp((int)MathF.Round((x[i] + mj) / dj), 0, top);
        }
        var qs = bits == 4 ? y.Slice(16, 128) : y.Slice(48, 128);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
            {
                int a = q[64 * c + l], b = q[64 * c + 32 + l];
                qs[32 * c + l] = (byte)((a & 0xF) | (b & 0xF) << 4);
                if (bits == 5) y[16 + l] |= (byte)((a >> 4) << (2 * c) | (b >> 4) << (2 * c + 1));
            }
    }

    /// <summary>
    /// Scale and min (x ≈ scale·q − min, q in 0…top, min ≥ 0) of one sub-block: the min/max grid and grids
    /// up to one step coarser or finer each assign codes, a least-squares line through (q, x) refits scale
    /// and min for those codes, and the fit with the smallest squared error wins (make_qkx2_quants' idea,
    /// unweighted).
    /// </summary>
    static (float Scale, float Min) FitSubBlock(ReadOnlySpan<float> x, int top)
    {
        float lo = 0, hi = float.MinValue;
        foreach (float v in x) { lo = MathF.Min(lo, v); hi = MathF.Max(hi, v); }
        if (hi <= lo) return (0, -lo);
        float bestScale = (hi - lo) / top, bestOffset = lo, bestErr = float.MaxValue;
        Span<int> q = stackalloc int[x.Length];
        for (int step = -10; step <= 10; step++)
        {
            float iscale = (top + 0.1f * step) / (hi - lo);
            double sl = 0, sl2 = 0, sx = 0, sxl = 0;
            for (int i = 0; i < x.Length; i++)
            {
                q[i] = Math.Clamp((int)MathF.Round((x[i] - lo) * iscale), 0, top);
                sl += q[i]; sl2 += q[i] * q[i]; sx += x[i]; sxl += x[i] * (double)q[i];
            }
            double det = x.Length * sl2 - sl * sl;
            if (det <= 0) continue;
            double a = (x.Length * sxl - sx * sl) / det, b = (sl2 * sx - sl * sxl) / det; // x ≈ a·q + b
            if (b > 0) { b = 0; a = sxl / sl2; } // the offset is stored as a non-negative min to subtract
            double err = 0;
            for (int i = 0; i < x.Length; i++) { double e = a * q[i] + b - x[i]; err += e * e; }
            if (err < bestErr) { bestErr = (float)err; bestScale = (float)a; bestOffset = (float)b; }
        }
        return (MathF.Max(bestScale, 0), -bestOffset);
    }

    /// <summary>
    /// Q6_K: each sub-block of 16 gets scale = max|x| / 31 (codes −31…31 of the available −32…31, so
    /// no sign search is needed), stored as an 8-bit fraction of the largest (d = max scale / 127).
    /// </summary>
    static void QuantizeQ6_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<float> scale = stackalloc float[16];
        float maxScale = 0;
        for (int j = 0; j < 16; j++)
        {
            float amax = 0;
            foreach (float v in x.Slice(16 * j, 16)) amax = MathF.Max(amax, MathF.Abs(v));
            scale[j] = amax / 31;
            maxScale = MathF.Max(maxScale, scale[j]);
        }
        WriteHalf(y, 208, maxScale / 127);
        float d = GgufQuants.Half(y, 208);
        var sc = y.Slice(192, 16);
        Span<int> q = stackalloc int[GgufQuants.QK_K];
        for (int j = 0; j < 16; j++)
        {
            int s = maxScale > 0 ? Math.Min(127, (int)MathF.Round(127 * scale[j] / maxScale)) : 0;
            sc[j] = (byte)(sbyte)s;
            float dj = d * s;
            for (int i = 16 * j; i < 16 * j + 16; i++)
                q[i] = (dj == 0 ? 0 : Math.Clamp((int)MathF.Round(x[i] / dj), -32, 31)) + 32;
        }
        var ql = y[..128];
        var qh = y.Slice(128, 64);
        for (int half = 0; half < 2; half++)
            for (int l = 0; l < 32; l++)
            {
                int b = 128 * half + l;
                int q1 = q[b], q2 = q[b + 32], q3 = q[b + 64], q4 = q[b + 96];
                ql[64 * half + l] = (byte)((q1 & 0xF) | (q3 & 0xF) << 4);
                ql[64 * half + l + 32] = (byte)((q2 & 0xF) | (q4 & 0xF) << 4);
                qh[32 * half + l] = (byte)(q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
            }
    }
}
