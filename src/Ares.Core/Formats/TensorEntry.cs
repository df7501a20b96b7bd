namespace Ares.Core.Formats;

/// <summary>
/// Element types a checkpoint may hold. The Q* types are ggml's block quantisations (GGUF only,
/// see <see cref="GgufQuants"/>), dequantised to fp32 on load.
/// </summary>
internal enum TensorDType { F32, F16, BF16, F64, I8, I16, I32, I64, U8, Bool, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K }

/// <summary>
/// One tensor in a checkpoint file: its name, element type, shape (outermost dimension first, as
/// PyTorch writes it) and the absolute byte range it occupies in <see cref="ITensorReader.FilePath"/>.
/// </summary>
internal sealed record TensorEntry(string Name, TensorDType DType, long[] Shape, long Offset, long ByteLength)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public override string ToString() => $"{Name} {DType}[{string.Join(", ", Shape)}]";
}

/// <summary>A checkpoint file whose tensors can be read by name. Validated when opened.</summary>
internal interface ITensorReader : IDisposable
{
    string FilePath { get; }
    IReadOnlyDictionary<string, TensorEntry> Tensors { get; }

    /// <summary>Copies the tensor's raw bytes (file byte order: little-endian) into <paramref name="destination"/>.</summary>
    void ReadBytes(TensorEntry entry, Span<byte> destination);
}

/// <summary>Thrown for a malformed or unsupported model file; the message names the file and the tensor or key.</summary>
internal sealed class ModelFormatException(string message, Exception? inner = null) : Exception(message, inner);
