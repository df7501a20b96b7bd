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
