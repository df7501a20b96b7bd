using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Ares.Core.Formats;

/// <summary>Byte sizes and conversions of <see cref="TensorDType"/>.</summary>
internal static class TensorDTypes
{
    /// <summary>Q8_0 packs 32 weights as one fp16 scale and 32 signed bytes (ggml's block_q8_0).</summary>
    public const int Q8_0BlockElements = 32, Q8_0BlockBytes = 34;

    /// <summary>Bytes that <paramref name="elements"/> elements occupy, or null if the count does not fit the type's blocks.</summary>
    public static long? ByteLength(TensorDType t, long elements) => t switch
    {
        TensorDType.F32 or TensorDType.I32 => checked(elements * 4),
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => checked(elements * 2),
        TensorDType.F64 or TensorDType.I64 => checked(elements * 8),
        TensorDType.I8 or TensorDType.U8 or TensorDType.Bool => elements,
        TensorDType.Q8_0 => elements % Q8_0BlockElements == 0 ? checked(elements / Q8_0BlockElements * Q8_0BlockBytes) : null,
        _ => null,
    };

    /// <summary>
    /// Bytes a tensor of <paramref name="shape"/> (outermost first) occupies, for validating untrusted
    /// headers: false, with the reason, when a dimension is negative, the size overflows a long, or the
    /// innermost dimension is not a whole number of quantisation blocks (ggml quantises rows).
    /// </summary>
    public static bool TryByteLength(TensorDType t, ReadOnlySpan<long> shape, out long bytes, out string problem)
    {
        bytes = 0; problem = "";
        long elements = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0) { problem = $"dimension {i} is negative ({shape[i]})"; return false; }
            if (shape[i] != 0 && elements > long.MaxValue / shape[i]) { problem = "element count overflows a 64-bit integer"; return false; }
            elements *= shape[i];
        }
        if (t == TensorDType.Q8_0 && (shape.IsEmpty || shape[^1] % Q8_0BlockElements != 0))
        {
            problem = $"innermost dimension must be a multiple of Q8_0's block of {Q8_0BlockElements}";
            return false;
        }
        try { bytes = ByteLength(t, elements) ?? throw new OverflowException(); }
        catch (OverflowException) { problem = "byte size overflows a 64-bit integer"; return false; }
        return true;
    }

    /// <summary>
    /// Quantises fp32 to Q8_0 blocks exactly as ggml's quantize_row_q8_0_ref: per block of 32,
    /// d = max|x| / 127 stored as fp16, q = round-half-away(x / d) using the fp32 d.
    /// </summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (src.Length % Q8_0BlockElements != 0) throw new ArgumentException($"Q8_0 needs a multiple of {Q8_0BlockElements} values, got {src.Length}");
        int blocks = src.Length / Q8_0BlockElements;
        if (dst.Length != blocks * Q8_0BlockBytes) throw new ArgumentException($"Q8_0 of {src.Length} values needs {blocks * Q8_0BlockBytes} bytes, got {dst.Length}");
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * Q8_0BlockElements, Q8_0BlockElements);
            var block = dst.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float amax = 0;
            foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127, id = d != 0 ? 1 / d : 0;
            BinaryPrimitives.WriteUInt16LittleEndian(block, BitConverter.HalfToUInt16Bits((Half)d));
            for (int j = 0; j < Q8_0BlockElements; j++) block[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    public static bool IsFloatingPoint(TensorDType t) => t is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16 or TensorDType.F64 or TensorDType.Q8_0;

    /// <summary>Converts raw little-endian bytes of a floating-point (or Q8_0) tensor to fp32.</summary>
    public static void ToFloat32(TensorDType t, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (t)
        {
            case TensorDType.F32:
                MemoryMarshal.Cast<byte, float>(src)[..dst.Length].CopyTo(dst);
                break;
            case TensorDType.F16:
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                break;
            case TensorDType.BF16:
                for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]) << 16);
                break;
            case TensorDType.F64:
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]);
                break;
            case TensorDType.Q8_0:
                for (int b = 0; b < dst.Length / Q8_0BlockElements; b++)
                {
                    var block = src.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
                    float d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block));
                    for (int j = 0; j < Q8_0BlockElements; j++) dst[b * Q8_0BlockElements + j] = d * (sbyte)block[2 + j];
                }
                break;
            default:
                throw new NotSupportedException($"cannot convert {t} to fp32");
        }
    }
}
