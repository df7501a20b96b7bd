using System.Text;

namespace Ares.Core.Formats;

/// <summary>
/// Writes GGUF version 3 files that llama.cpp and <see cref="GgufFile"/> read: metadata key–values in
/// the order given, tensor infos with shapes innermost-first, and tensor data each aligned to
/// <c>general.alignment</c> (32 unless the metadata sets it). Files are streamed and replaced atomically.
/// </summary>
/// <remarks>
/// Metadata values map from their CLR type: byte, sbyte, ushort, short, uint, int, float, bool,
/// string, ulong, long, double, or a one-dimensional array of one of those.
/// </remarks>
internal static class GgufWriter
{
    const uint Magic = 0x46554747, Version = 3, DefaultAlignment = 32, ArrayType = 9;
    const int MaxDims = 4;

    public static void Write(string path, IEnumerable<KeyValuePair<string, object>> metadata, IReadOnlyList<TensorToWrite> tensors)
    {
        var kvs = metadata.ToList();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in kvs)
        {
            if (!keys.Add(key)) throw new ArgumentException($"metadata key '{key}' is given twice");
            if (value is Array a) ItemTypeOf(a, key); else TypeOf(value, key);
        }
        uint alignment = kvs.FirstOrDefault(kv => kv.Key == "general.alignment").Value switch
        {
            null => DefaultAlignment,
            uint u when u != 0 && (u & (u - 1)) == 0 => u,
            var v => throw new ArgumentException($"metadata key 'general.alignment' must be a power-of-two uint, got {v}"),
        };

        var layout = new List<(TensorToWrite Tensor, uint Type, long Offset)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var t in tensors)
        {
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' is listed twice");
            uint type = GgufFile.GgmlType(t.DType) ?? throw new ArgumentException($"tensor '{t.Name}': GGUF has no {t.DType} type");
            if (t.Shape.Length is 0 or > MaxDims || t.Shape.Any(d => d <= 0))
                throw new ArgumentException($"tensor '{t.Name}': GGUF needs 1–{MaxDims} positive dimensions, got [{string.Join(", ", t.Shape)}]");
            offset = AlignUp(offset, alignment);
            layout.Add((t, type, offset));
            offset += t.ByteLength; // also rejects Q8_0 rows that are not whole blocks
        }

        TensorFileIO.WriteAtomically(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(Version);
            w.Write((ulong)layout.Count);
            w.Write((ulong)kvs.Count);
            foreach (var (key, value) in kvs)
            {
                WriteString(w, key);
                if (value is Array array)
                {
                    w.Write(ArrayType);
                    w.Write(ItemTypeOf(array, key));
                    w.Write((ulong)array.Length);
                    foreach (object? item in array) WriteScalar(w, item ?? throw new ArgumentException($"metadata key '{key}': array holds a null"));
                }
                else
                {
                    w.Write(TypeOf(value, key));
                    WriteScalar(w, value);
                }
            }
            foreach (var (t, type, rel) in layout)
            {
                WriteString(w, t.Name);
                w.Write((uint)t.Shape.Length);
                for (int d = t.Shape.Length - 1; d >= 0; d--) w.Write((ulong)t.Shape[d]); // GGUF lists innermost first
                w.Write(type);
                w.Write((ulong)rel);
            }
            w.Flush();
            long dataStart = AlignUp(stream.Position, alignment);
            foreach (var (t, _, rel) in layout)
            {
                Pad(stream, dataStart + rel);
                t.WriteTo(stream);
            }
        });
    }

    static long AlignUp(long x, uint alignment) => (x + alignment - 1) / alignment * alignment;

    static void Pad(Stream stream, long to)
    {
        Span<byte> zeros = stackalloc byte[64];
        zeros.Clear();
        while (stream.Position < to) stream.Write(zeros[..(int)Math.Min(zeros.Length, to - stream.Position)]);
    }

    static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    // gguf_type ids.
    static uint TypeOf(object value, string key) => value switch
    {
        byte => 0,
        sbyte => 1,
        ushort => 2,
        short => 3,
        uint => 4,
        int => 5,
        float => 6,
        bool => 7,
        string => 8,
        ulong => 10,
        long => 11,
        double => 12,
        _ => throw new ArgumentException($"metadata key '{key}': GGUF cannot store a {value?.GetType().Name ?? "null"}"),
    };

    static uint ItemTypeOf(Array array, string key)
    {
        var itemType = array.GetType().GetElementType()!;
        if (array.Rank != 1 || itemType == typeof(object) || itemType.IsArray)
            throw new ArgumentException($"metadata key '{key}': arrays must be one-dimensional and typed, got {array.GetType().Name}");
        object? sample = itemType == typeof(string) ? "" : Activator.CreateInstance(itemType);
        return TypeOf(sample!, key);
    }

    static void WriteScalar(BinaryWriter w, object value)
    {
        switch (value)
        {
            case byte v: w.Write(v); break;
            case sbyte v: w.Write(v); break;
            case ushort v: w.Write(v); break;
            case short v: w.Write(v); break;
            case uint v: w.Write(v); break;
            case int v: w.Write(v); break;
            case float v: w.Write(v); break;
            case bool v: w.Write(v); break;
            case string v: WriteString(w, v); break;
            case ulong v: w.Write(v); break;
            case long v: w.Write(v); break;
            case double v: w.Write(v); break;
            default: throw new ArgumentException($"GGUF cannot store a {value.GetType().Name}");
        }
    }
}
