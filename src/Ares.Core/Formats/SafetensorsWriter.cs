using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ares.Core.Formats;

/// <summary>
/// Writes safetensors files byte-for-byte as the reference Rust library (huggingface/safetensors)
/// does: data ordered by descending dtype alignment then name, the header listing
/// <c>__metadata__</c> first and then the tensors in data order, padded with spaces to a multiple
/// of 8 bytes so every tensor starts aligned. Files are streamed and replaced atomically.
/// </summary>
internal static class SafetensorsWriter
{
    public const string IndexFileName = "model.safetensors.index.json";

    // Rust's Dtype enum order (BOOL < U8 < I8 < … < F64 < I64): the sort key for data order.
    static readonly TensorDType[] AlignmentOrder =
        [TensorDType.Bool, TensorDType.U8, TensorDType.I8, TensorDType.I16, TensorDType.F16, TensorDType.BF16,
         TensorDType.I32, TensorDType.F32, TensorDType.F64, TensorDType.I64];

    static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Write(string path, IReadOnlyList<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = Order(tensors);
        byte[] header = Header(ordered, metadata);
        TensorFileIO.WriteAtomically(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (tensor, _) in ordered) tensor.WriteTo(stream);
        });
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> as Hugging Face shards <c>model-0000k-of-0000n.safetensors</c>
    /// in <paramref name="directory"/> (a new shard starts when the next tensor would push the current one
    /// past <paramref name="maxShardBytes"/>) and then <see cref="IndexFileName"/>; returns the index path.
    /// </summary>
    public static string WriteSharded(string directory, IReadOnlyList<TensorToWrite> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? shardMetadata = null)
    {
        var shards = new List<List<TensorToWrite>>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long shardBytes = 0, totalBytes = 0;
        foreach (var t in tensors)
        {
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' is listed twice");
            long bytes = t.ByteLength;
            if (shards.Count == 0 || (shards[^1].Count > 0 && shardBytes + bytes > maxShardBytes)) { shards.Add([]); shardBytes = 0; }
            shards[^1].Add(t);
            shardBytes += bytes;
            totalBytes += bytes;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Write(Path.Combine(directory, file), shards[i], shardMetadata);
            foreach (var t in shards[i]) weightMap[t.Name] = file;
        }

        // The layout transformers' save_pretrained writes: sorted keys, two-space indent.
        string indexPath = Path.Combine(directory, IndexFileName);
        TensorFileIO.WriteAtomically(indexPath, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = Compact.Encoder });
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalBytes);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap) json.WriteString(name, file);
            json.WriteEndObject();
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
        });
        return indexPath;
    }

    static List<(TensorToWrite Tensor, long Bytes)> Order(IReadOnlyList<TensorToWrite> tensors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (t.Name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor");
            if (Array.IndexOf(AlignmentOrder, t.DType) < 0) throw new ArgumentException($"tensor '{t.Name}': safetensors has no {t.DType} dtype");
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' is listed twice");
        }
        return tensors.Select(t => (t, t.ByteLength))
            .OrderByDescending(x => Array.IndexOf(AlignmentOrder, x.t.DType))
            .ThenBy(x => x.t.Name, StringComparer.Ordinal)
            .ToList();
    }

    static byte[] Header(List<(TensorToWrite Tensor, long Bytes)> ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, Compact))
        {
            json.WriteStartObject();
            if (metadata != null)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (t, bytes) in ordered)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", SafetensorsFile.DTypeNames.First(kv => kv.Value == t.DType).Key);
                json.WriteStartArray("shape");
                foreach (long d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
