using System.Buffers.Binary;

namespace Ares.Core.Formats;

/// <summary>
/// ggml's block-quantised tensor types: block geometry and dequantisation to fp32, bit-exact with
/// llama.cpp's reference <c>dequantize_row_*</c> (ggml-quants.c; block layouts from ggml-common.h).
/// </summary>
/// <remarks>
/// ggml quantises each row (innermost dimension) in blocks: 32 weights for the "legacy" types
/// (Q4_0 … Q8_0), 256-weight super-blocks for the K-quants, which nest 16 or 8 sub-blocks whose
/// scales (and mins) are themselves quantised against fp16 super-scales <c>d</c> and <c>dmin</c>.
/// Bit-exact means the same fp32 operations in the same order as the C reference compiled without
/// fused multiply-add (e.g. Q6_K computes <c>(d·scale)·q</c>, Q4_K <c>(d·scale)·q − dmin·min</c>);
/// a build of llama.cpp that contracts to FMA can differ in the last bit.
/// </remarks>
internal static class GgufQuants
{
    /// <summary>Weights per block of the legacy types, and per super-block of the K-quants (QK_K).</summary>
    public const int QK = 32, QK_K = 256;

    /// <summary>The block-quantised types this reader dequantises, in ggml_type id order.</summary>
    public static readonly IReadOnlyList<TensorDType> Types =
    [
        TensorDType.Q4_0, TensorDType.Q4_1, TensorDType.Q5_0, TensorDType.Q5_1, TensorDType.Q8_0,
        TensorDType.Q2_K, TensorDType.Q3_K, TensorDType.Q4_K, TensorDType.Q5_K, TensorDType.Q6_K,
    ];

    public static bool IsQuantized(TensorDType t) => BlockOf(t) is not null;

    /// <summary>Weights per block and bytes per block (sizeof(block_*) in ggml-common.h), or null for an unblocked type.</summary>
    public static (int Elements, int Bytes)? BlockOf(TensorDType t) => t switch
    {
        TensorDType.Q4_0 => (QK, 18),    // fp16 d; 16 bytes of nibbles
        TensorDType.Q4_1 => (QK, 20),    // fp16 d, m; 16 bytes of nibbles
        TensorDType.Q5_0 => (QK, 22),    // fp16 d; u32 fifth bits; 16 bytes of nibbles
        TensorDType.Q5_1 => (QK, 24),    // fp16 d, m; u32 fifth bits; 16 bytes of nibbles
        TensorDType.Q8_0 => (QK, 34),    // fp16 d; 32 signed bytes
        TensorDType.Q2_K => (QK_K, 84),  // 16 scale|min nibble pairs; 64 bytes of 2-bit codes; fp16 d, dmin
        TensorDType.Q3_K => (QK_K, 110), // 32 bytes of high bits; 64 bytes of 2-bit codes; 12 bytes of 6-bit scales; fp16 d
        TensorDType.Q4_K => (QK_K, 144), // fp16 d, dmin; 12 bytes of 6-bit scales/mins; 128 bytes of nibbles
        TensorDType.Q5_K => (QK_K, 176), // fp16 d, dmin; 12 bytes of 6-bit scales/mins; 32 bytes of fifth bits; 128 bytes of nibbles
        TensorDType.Q6_K => (QK_K, 210), // 128 bytes of low nibbles; 64 bytes of high 2-bit pairs; 16 signed scales; fp16 d
        _ => null,
    };

    /// <summary>
    /// Dequantises whole blocks: <paramref name="dst"/> must hold a whole number of blocks and
    /// <paramref name="src"/> exactly their bytes.
    /// </summary>
    public static void Dequantize(TensorDType t, ReadOnlySpan<byte> src, Span<float> dst)
    {
        var (n, bytes) = BlockOf(t) ?? throw new NotSupportedException($"{t} is not a block-quantised type");
        if (dst.Length % n != 0) throw new ArgumentException($"{t} dequantises whole blocks of {n} values, got {dst.Length}");
        int blocks = dst.Length / n;
        if (src.Length != (long)blocks * bytes) throw new ArgumentException($"{blocks} {t} blocks are {(long)blocks * bytes} bytes, got {src.Length}");
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * bytes, bytes);
            var y = dst.Slice(b * n, n);
            switch (t)
            {
                case TensorDType.Q4_0: DequantizeQ4_0(x, y); break;
                case TensorDType.Q4_1: DequantizeQ4_1(x, y); break;
                case TensorDType.Q5_0: DequantizeQ5_0(x, y); break;
                case TensorDType.Q5_1: DequantizeQ5_1(x, y); break;
                case TensorDType.Q8_0: DequantizeQ8_0(x, y); break;
                case TensorDType.Q2_K: DequantizeQ2_K(x, y); break;
                case TensorDType.Q3_K: DequantizeQ3_K(x, y); break;
                case TensorDType.Q4_K: DequantizeQ4_K(x, y); break;
                case TensorDType.Q5_K: DequantizeQ5_K(x, y); break;
                case TensorDType.Q6_K: DequantizeQ6_K(x, y); break;
            }
        }
    }

    internal static float Half(ReadOnlySpan<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[at..]));

    /// <summary>Q4_0: y = d·(q − 8); element j in the low nibble of byte j, element j+16 in its high nibble.</summary>
    static void DequantizeQ4_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x, 0);
        var qs = x[2..];
        for (int j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    /// <summary>Q4_1: y = d·q + m, nibbles as Q4_0.</summary>
    static void DequantizeQ4_1(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x, 0), m = Half(x, 2);
        var qs = x[4..];
        for (int j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0x0F) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    /// <summary>Q5_0: y = d·(q − 16) with q's fifth bit for element e at bit e of the little-endian u32 qh.</summary>
    static void DequantizeQ5_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x, 0);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(x[2..]);
        var qs = x[6..];
        for (int j = 0; j < 16; j++)
        {
            int lo = (qs[j] & 0x0F) | (int)((qh >> j) & 1) << 4;
            int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (lo - 16) * d;
            y[j + 16] = (hi - 16) * d;
        }
    }

    /// <summary>Q5_1: y = d·q + m, five-bit codes as Q5_0.</summary>
    static void DequantizeQ5_1(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x, 0), m = Half(x, 2);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(x[4..]);
        var qs = x[8..];
        for (int j = 0; j < 16; j++)
        {
            int lo = (qs[j] & 0x0F) | (int)((qh >> j) & 1) << 4;
            int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = lo * d + m;
            y[j + 16] = hi * d + m;
        }
    }

    /// <summary>Q8_0: y = d·q with q a signed byte.</summary>
    static void DequantizeQ8_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x, 0);
        for (int j = 0; j < QK; j++) y[j] = (sbyte)x[2 + j] * d;
    }

    /// <summary>
    /// Q2_K: 16 sub-blocks of 16; byte s of <c>scales</c> holds sub-block s's 4-bit scale (low) and
    /// min (high); y = (d·scale)·q − dmin·min. Each 128-weight half reads 32 code bytes four times,
    /// two bits deeper each time.
    /// </summary>
    static void DequantizeQ2_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        var scales = x[..16];
        var qs = x.Slice(16, 64);
        float d = Half(x, 80), dmin = Half(x, 82);
        int s = 0, o = 0;
        for (int half = 0; half < 2; half++)
        {
            var q = qs.Slice(32 * half, 32);
            for (int shift = 0; shift < 8; shift += 2)
                for (int part = 0; part < 32; part += 16)
                {
                    byte sc = scales[s++];
                    float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
                    for (int l = 0; l < 16; l++) y[o++] = dl * ((q[part + l] >> shift) & 3) - ml;
                }
        }
    }

    /// <summary>
    /// Q3_K: 16 sub-blocks of 16 with signed 6-bit scales (stored +32): low nibbles in bytes 0–7
    /// (sub-blocks 0–7 low, 8–15 high), the top two bits of scale j at bits 2·(j/4) of byte 8 + j%4.
    /// y = (d·(scale − 32))·(q − 4·(1 − h)) where q is the 2-bit code and h its bit in <c>hmask</c>.
    /// </summary>
    static void DequantizeQ3_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        var hmask = x[..32];
        var qs = x.Slice(32, 64);
        var packed = x.Slice(96, 12);
        float d = Half(x, 108);
        Span<int> scale = stackalloc int[16];
        for (int j = 0; j < 16; j++)
        {
            int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
            int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
            scale[j] = (low | high << 4) - 32;
        }
        int s = 0, o = 0, bit = 0;
        for (int half = 0; half < 2; half++)
        {
            var q = qs.Slice(32 * half, 32);
            for (int shift = 0; shift < 8; shift += 2, bit++)
                for (int part = 0; part < 32; part += 16)
                {
                    float dl = d * scale[s++];
                    for (int l = part; l < part + 16; l++)
                        y[o++] = dl * (((q[l] >> shift) & 3) - ((hmask[l] >> bit & 1) != 0 ? 0 : 4));
                }
        }
    }

    /// <summary>
    /// The 6-bit scale and min of sub-block j (0–7) of Q4_K/Q5_K (ggml's get_scale_min_k4): for
    /// j &lt; 4 the low six bits of bytes j and j+4; for j ≥ 4 the nibbles of byte j+4 plus, as bits
    /// 4–5, the top two bits of bytes j−4 (scale) and j (min).
    /// </summary>
    internal static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0xF) | (q[j - 4] >> 6) << 4, (q[j + 4] >> 4) | (q[j] >> 6) << 4);

    /// <summary>
    /// Q4_K: 8 sub-blocks of 32; y = (d·scale)·q − dmin·min. Each 64-weight chunk reads 32 bytes:
    /// low nibbles are sub-block 2c, high nibbles sub-block 2c+1.
    /// </summary>
    static void DequantizeQ4_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x, 0), dmin = Half(x, 2);
        var scales = x.Slice(4, 12);
        var qs = x.Slice(16, 128);
        int o = 0;
        for (int c = 0; c < 4; c++)
        {
            var q = qs.Slice(32 * c, 32);
            var (sc1, m1) = ScaleMinK4(2 * c, scales);
            var (sc2, m2) = ScaleMinK4(2 * c + 1, scales);
            float d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2;
            for (int l = 0; l < 32; l++) y[o++] = d1 * (q[l] & 0xF) - min1;
            for (int l = 0; l < 32; l++) y[o++] = d2 * (q[l] >> 4) - min2;
        }
    }

    /// <summary>Q5_K: Q4_K plus a fifth bit: bit 2c (low nibbles) or 2c+1 (high nibbles) of qh[l] adds 16.</summary>
    static void DequantizeQ5_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x, 0), dmin = Half(x, 2);
        var scales = x.Slice(4, 12);
        var qh = x.Slice(16, 32);
        var qs = x.Slice(48, 128);
        int o = 0;
        for (int c = 0; c < 4; c++)
        {
            var q = qs.Slice(32 * c, 32);
            var (sc1, m1) = ScaleMinK4(2 * c, scales);
            var (sc2, m2) = ScaleMinK4(2 * c + 1, scales);
            float d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2;
            for (int l = 0; l < 32; l++) y[o++] = d1 * ((q[l] & 0xF) + ((qh[l] >> (2 * c) & 1) << 4)) - min1;
            for (int l = 0; l < 32; l++) y[o++] = d2 * ((q[l] >> 4) + ((qh[l] >> (2 * c + 1) & 1) << 4)) - min2;
        }
    }

    /// <summary>
    /// Q6_K: 16 sub-blocks of 16 with signed 8-bit scales; y = (d·scale)·(q − 32) with q's low four
    /// bits from <c>ql</c> and high two from <c>qh</c>. Each 128-weight half uses 64 ql bytes and 32 qh
    /// bytes: weight l + 32k takes ql[l + 32·(k%2)]'s low (k &lt; 2) or high nibble and bits 2k of qh[l].
    /// </summary>
    static void DequantizeQ6_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        var ql = x[..128];
        var qh = x.Slice(128, 64);
        var sc = x.Slice(192, 16);
        float d = Half(x, 208);
        for (int half = 0; half < 2; half++)
        {
            var lo = ql.Slice(64 * half, 64);
            var hi = qh.Slice(32 * half, 32);
            var s = sc.Slice(8 * half, 8);
            var yh = y.Slice(128 * half, 128);
            for (int l = 0; l < 32; l++)
            {
                int g = l / 16;
                int q1 = ((lo[l] & 0xF) | ((hi[l] >> 0) & 3) << 4) - 32;
                int q2 = ((lo[l + 32] & 0xF) | ((hi[l] >> 2) & 3) << 4) - 32;
                int q3 = ((lo[l] >> 4) | ((hi[l] >> 4) & 3) << 4) - 32;
                int q4 = ((lo[l + 32] >> 4) | ((hi[l] >> 6) & 3) << 4) - 32;
                yh[l] = d * (sbyte)s[g] * q1;
                yh[l + 32] = d * (sbyte)s[g + 2] * q2;
                yh[l + 64] = d * (sbyte)s[g + 4] * q3;
                yh[l + 96] = d * (sbyte)s[g + 6] * q4;
            }
        }
    }
}
