using Ares.Core.Formats;

namespace Ares.Core.Tests.Formats;

/// <summary>
/// An independent dequantiser for the tests, written from ggml-common.h's block layouts: it decodes
/// one weight at a time by its index in the block (which bits hold its code, which sub-block scale
/// applies), unlike the production code's row loops. The float arithmetic is llama.cpp's, operation
/// for operation, because the claim under test is bit-exactness with dequantize_row_*.
/// </summary>
internal static class ReferenceDequantizer
{
    /// <summary>One decoded weight: its code (as stored, unsigned), its sub-block's scale and min codes (−1 when the type has none), and its value.</summary>
    internal readonly record struct Weight(int Code, int ScaleCode, int MinCode, float Value);

    public static int BlockElements(TensorDType t) => t is TensorDType.Q2_K or TensorDType.Q3_K or TensorDType.Q4_K or TensorDType.Q5_K or TensorDType.Q6_K ? 256 : 32;

    public static int BlockBytes(TensorDType t) => t switch
    {
        // Sums of the struct fields in ggml-common.h.
        TensorDType.Q4_0 => 2 + 16,
        TensorDType.Q4_1 => 2 + 2 + 16,
        TensorDType.Q5_0 => 2 + 4 + 16,
        TensorDType.Q5_1 => 2 + 2 + 4 + 16,
        TensorDType.Q8_0 => 2 + 32,
        TensorDType.Q2_K => 16 + 64 + 2 + 2,
        TensorDType.Q3_K => 32 + 64 + 12 + 2,
        TensorDType.Q4_K => 2 + 2 + 12 + 128,
        TensorDType.Q5_K => 2 + 2 + 12 + 32 + 128,
        TensorDType.Q6_K => 128 + 64 + 16 + 2,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    static float F16(byte[] b, int at) => (float)BitConverter.UInt16BitsToHalf((ushort)(b[at] | b[at + 1] << 8));

    /// <summary>Reads <paramref name="count"/> bits starting at bit <paramref name="bit"/> (LSB-first) of <paramref name="b"/>.</summary>
    static int Bits(byte[] b, int bit, int count)
    {
        int v = 0;
        for (int i = 0; i < count; i++) v |= (b[(bit + i) / 8] >> ((bit + i) % 8) & 1) << i;
        return v;
    }

    static int Nibble(byte[] b, int at, bool high) => Bits(b, 8 * at + (high ? 4 : 0), 4);

    public static Weight Decode(TensorDType t, byte[] x, int e)
    {
        switch (t)
        {
            case TensorDType.Q4_0:
                {
                    int q = Nibble(x, 2 + e % 16, e >= 16);
                    return new(q, -1, -1, (q - 8) * F16(x, 0));
                }
            case TensorDType.Q4_1:
                {
                    int q = Nibble(x, 4 + e % 16, e >= 16);
                    return new(q, -1, -1, q * F16(x, 0) + F16(x, 2));
                }
            case TensorDType.Q5_0:
                {
                    int q = Nibble(x, 6 + e % 16, e >= 16) | Bits(x, 8 * 2 + e, 1) << 4;
                    return new(q, -1, -1, (q - 16) * F16(x, 0));
                }
            case TensorDType.Q5_1:
                {
                    int q = Nibble(x, 8 + e % 16, e >= 16) | Bits(x, 8 * 4 + e, 1) << 4;
                    return new(q, -1, -1, q * F16(x, 0) + F16(x, 2));
                }
            case TensorDType.Q8_0:
                {
                    int q = (sbyte)x[2 + e];
                    return new(q & 0xFF, -1, -1, q * F16(x, 0));
                }
            case TensorDType.Q2_K:
                {
                    // Weight e: 128-weight half h, 32-weight quarter k (bit pair k of each code byte), lane l; sub-block e/16.
                    int h = e / 128, k = e % 128 / 32, l = e % 32, s = e / 16;
                    int q = Bits(x, 8 * (16 + 32 * h + l) + 2 * k, 2);
                    int sc = Bits(x, 8 * s, 4), m = Bits(x, 8 * s + 4, 4);
                    float dl = F16(x, 80) * sc, ml = F16(x, 82) * m;
                    return new(q, sc, m, dl * q - ml);
                }
            case TensorDType.Q3_K:
                {
                    int h = e / 128, k = e % 128 / 32, l = e % 32, s = e / 16;
                    int low = Bits(x, 8 * (32 + 32 * h + l) + 2 * k, 2);
                    int high = Bits(x, 8 * l + 4 * h + k, 1);
                    int sc = Q3Scale(x, s);
                    float dl = F16(x, 108) * (sc - 32);
                    return new(low | high << 2, sc, -1, dl * (low - (high == 1 ? 0 : 4)));
                }
            case TensorDType.Q4_K:
            case TensorDType.Q5_K:
                {
                    // Weight e: 64-weight chunk c, high nibble for its upper 32; sub-block s = e/32.
                    int c = e / 64, l = e % 32, s = e / 32;
                    bool hi = e % 64 >= 32;
                    int qsAt = t == TensorDType.Q4_K ? 16 : 48;
                    int q = Nibble(x, qsAt + 32 * c + l, hi);
                    if (t == TensorDType.Q5_K) q |= Bits(x, 8 * (16 + l) + s, 1) << 4;
                    var (sc, m) = K4ScaleMin(x, s);
                    float d = F16(x, 0) * sc, dm = F16(x, 2) * m;
                    return new(q, sc, m, d * q - dm);
                }
            case TensorDType.Q6_K:
                {
                    int h = e / 128, k = e % 128 / 32, l = e % 32, s = e / 16;
                    int low = Nibble(x, 64 * h + 32 * (k % 2) + l, k >= 2);
                    int high = Bits(x, 8 * (128 + 32 * h + l) + 2 * k, 2);
                    int q = low | high << 4;
                    int sc = (sbyte)x[192 + s];
                    return new(q, sc & 0xFF, -1, F16(x, 208) * sc * (q - 32));
                }
            default: throw new ArgumentOutOfRangeException(nameof(t));
        }
    }

    /// <summary>
    /// Q3_K's 6-bit scale s, unpacked as dequantize_row_q3_K does (little-endian u32 words and masks):
    /// words 0–1 give low nibbles (scales 0–7 then their high nibbles 8–15), word 2 the top bit pairs.
    /// </summary>
    static int Q3Scale(byte[] x, int s)
    {
        uint W(int i) => BitConverter.ToUInt32(x, 96 + 4 * i);
        uint a0 = W(0), a1 = W(1), tmp = W(2);
        uint[] aux =
        [
            (a0 & 0x0f0f0f0f) | ((tmp >> 0) & 0x03030303) << 4,
            (a1 & 0x0f0f0f0f) | ((tmp >> 2) & 0x03030303) << 4,
            ((a0 >> 4) & 0x0f0f0f0f) | ((tmp >> 4) & 0x03030303) << 4,
            ((a1 >> 4) & 0x0f0f0f0f) | ((tmp >> 6) & 0x03030303) << 4,
        ];
        return (int)(aux[s / 4] >> (8 * (s % 4)) & 0xFF);
    }

    /// <summary>Q4_K/Q5_K's 6-bit scale and min of sub-block s (0–7), read as bit fields of the 12 bytes at offset 4.</summary>
    static (int Scale, int Min) K4ScaleMin(byte[] x, int s)
    {
        const int at = 8 * 4;
        if (s < 4) return (Bits(x, at + 8 * s, 6), Bits(x, at + 8 * (s + 4), 6));
        int scale = Bits(x, at + 8 * (s + 4), 4) | Bits(x, at + 8 * (s - 4) + 6, 2) << 4;
        int min = Bits(x, at + 8 * (s + 4) + 4, 4) | Bits(x, at + 8 * s + 6, 2) << 4;
        return (scale, min);
    }

    public static float[] Dequantize(TensorDType t, byte[] data)
    {
        int n = BlockElements(t), bytes = BlockBytes(t);
        var y = new float[data.Length / bytes * n];
        for (int b = 0; b < data.Length / bytes; b++)
        {
            var block = data.AsSpan(b * bytes, bytes).ToArray();
            for (int e = 0; e < n; e++) y[b * n + e] = Decode(t, block, e).Value;
        }
        return y;
    }
}
