using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// Minimal safetensors reading and fp32 writing for PEFT adapter files, isolated here until the
/// shared Ares.Core.Formats safetensors reader/writer lands; <see cref="Open"/> stands in for
/// SafetensorsFile.Open and <see cref="Write"/> for SafetensorsWriter.
/// </summary>
internal static class PeftSafetensorsShim
{
    public static ITensorReader Open(string path) => new Reader(path);

    /// <summary>Writes the tensors as fp32 (format: 8-byte header length, JSON header, raw little-endian data).</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, t) in tensors)
        {
            using var scope = NewDisposeScope();
            var f = t.detach().to_type(ScalarType.Float32).contiguous();
            var bytes = f.bytes.ToArray();
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(f.shape.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            blobs.Add(bytes);
            offset += bytes.Length;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;   // data starts 8-byte aligned, header padded with spaces (spec)
        using var s = File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        s.Write(len);
        s.Write(json);
        for (int i = json.Length; i < padded; i++) s.WriteByte((byte)' ');
        foreach (var b in blobs) s.Write(b);
    }

    sealed class Reader : ITensorReader
    {
        readonly FileStream _stream;
        public string FilePath { get; }
        public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }

        public Reader(string path)
        {
            FilePath = path;
            _stream = File.OpenRead(path);
            try { Tensors = ReadHeader(); }
            catch { _stream.Dispose(); throw; }
        }

        Dictionary<string, TensorEntry> ReadHeader()
        {
            Span<byte> len = stackalloc byte[8];
            if (_stream.Read(len) != 8) throw Bad("file is shorter than the 8-byte header length");
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(len);
            if (n > 100_000_000 || (long)n > _stream.Length - 8) throw Bad($"header length {n} exceeds the file");
            var json = new byte[n];
            _stream.ReadExactly(json);
            JsonObject header;
            try { header = JsonNode.Parse(json) as JsonObject ?? throw Bad("header is not a JSON object"); }
            catch (JsonException e) { throw Bad($"header is not valid JSON ({e.Message})"); }
            long dataStart = 8 + (long)n, dataLength = _stream.Length - dataStart;
            var entries = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
            foreach (var (name, node) in header)
            {
                if (name == "__metadata__") continue;
                if (node is not JsonObject o || o["dtype"] is null || o["shape"] is not JsonArray shape || o["data_offsets"] is not JsonArray offsets || offsets.Count != 2)
                    throw Bad($"tensor '{name}' lacks dtype, shape or data_offsets");
                var dtype = o["dtype"]!.GetValue<string>() switch
                {
                    "F32" => TensorDType.F32, "F16" => TensorDType.F16, "BF16" => TensorDType.BF16, "F64" => TensorDType.F64,
                    var other => throw Bad($"tensor '{name}' has dtype {other} (adapters are F32, F16, BF16 or F64)"),
                };
                var dims = shape.Select(d => d!.GetValue<long>()).ToArray();
                long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
                var entry = new TensorEntry(name, dtype, dims, dataStart + begin, end - begin);
                if (begin < 0 || end > dataLength || TensorDTypes.ByteLength(dtype, entry.ElementCount) != end - begin)
                    throw Bad($"tensor '{name}' has data_offsets [{begin}, {end}] that do not fit its shape or the file");
                entries[name] = entry;
            }
            return entries;
        }

        ModelFormatException Bad(string what) => new($"{FilePath}: {what}");

        public void ReadBytes(TensorEntry entry, Span<byte> destination)
        {
            _stream.Position = entry.Offset;
            _stream.ReadExactly(destination[..(int)entry.ByteLength]);
        }

        public void Dispose() => _stream.Dispose();
    }
}
