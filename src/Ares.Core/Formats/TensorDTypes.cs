using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Ares.Core.Formats;

/// <summary>Byte sizes and conversions of <see cref="TensorDType"/>.</summary>
internal static class TensorDTypes
{
    /// <summary>Bytes that <paramref name="elements"/> elements occupy, or null if the count does not fit the type's blocks.</summary>
    public static long? ByteLength(TensorDType t, long elements)
    {
        if (GgufQuants.BlockOf(t) is var (n, bytes))
            return elements % n == 0 ? checked(elements / n * bytes) : null;
        return t switch
        {
            TensorDType.F32 or TensorDType.I32 => checked(elements * 4),
            TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => checked(elements * 2),
            TensorDType.F64 or TensorDType.I64 => checked(elements * 8),
            TensorDType.I8 or TensorDType.U8 or TensorDType.Bool => elements,
            _ => null,
        };
    }

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
        if (GgufQuants.BlockOf(t) is var (n, _) && (shape.IsEmpty || shape[^1] % n != 0))
        {
            problem = $"innermost dimension {(shape.IsEmpty ? "(none)" : shape[^1].ToString())} must be a multiple of {t}'s block of {n}";
            return false;
        }
        try { bytes = ByteLength(t, elements) ?? throw new OverflowException(); }
        catch (OverflowException) { problem = "byte size overflows a 64-bit integer"; return false; }
        return true;
    }

    public static bool IsFloatingPoint(TensorDType t) => t is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16 or TensorDType.F64 || GgufQuants.IsQuantized(t);

    /// <summary>Converts raw little-endian bytes of a floating-point (or block-quantised) tensor to fp32.</summary>
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
            case var q when GgufQuants.IsQuantized(q):
                GgufQuants.Dequantize(q, src, dst);
                break;
            default:
                throw new NotSupportedException($"cannot convert {t} to fp32");
        }
    }
}
