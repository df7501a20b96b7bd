using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.Win32.SafeHandles;

namespace Ares.Core.Formats;

/// <summary>
/// Reader for Hugging Face safetensors files: an 8-byte little-endian header length N, N bytes of
/// JSON <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}</c>, then
/// the data section that the offsets index. The header is validated when opened; data is read on demand.
/// </summary>
/// <remarks>
/// The file is untrusted. Validation follows the reference Rust library (huggingface/safetensors):
/// the header is capped at 100 MB, every size is checked for overflow, and the tensors' byte ranges
/// must tile the data section exactly (no overlaps, holes or trailing bytes). Nothing is allocated
/// from a length before it has been checked against the file.
/// </remarks>
internal sealed class SafetensorsFile : ITensorReader
{
    /// <summary>The Rust library's MAX_HEADER_SIZE; a larger header is corruption, not a model.</summary>
    public const long MaxHeaderBytes = 100_000_000;
    const int MaxRank = 16; // real tensors have ≤ 8 dimensions; a cap keeps messages and arrays small

    /// <summary>Safetensors dtype names Ares reads; others (F8_E4M3, U16, …) are rejected by name.</summary>
    internal static readonly IReadOnlyDictionary<string, TensorDType> DTypeNames = new Dictionary<string, TensorDType>(StringComparer.Ordinal)
    {
        ["F32"] = TensorDType.F32,
        ["F16"] = TensorDType.F16,
        ["BF16"] = TensorDType.BF16,
        ["F64"] = TensorDType.F64,
        ["I8"] = TensorDType.I8,
        ["I16"] = TensorDType.I16,
        ["I32"] = TensorDType.I32,
        ["I64"] = TensorDType.I64,
        ["U8"] = TensorDType.U8,
        ["BOOL"] = TensorDType.Bool,
    };

    readonly SafeFileHandle _handle;
    public string FilePath { get; }
    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }
    /// <summary>The header's <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafetensorsFile(string path, SafeFileHandle handle, Dictionary<string, TensorEntry> tensors, Dictionary<string, string> metadata)
    {
        FilePath = path; _handle = handle; Tensors = tensors; Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        var handle = TensorFileIO.OpenRead(path);
        try { return Parse(path, handle); }
        catch { handle.Dispose(); throw; }
    }

    static SafetensorsFile Parse(string path, SafeFileHandle handle)
    {
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8) throw new ModelFormatException($"{path}: truncated: {fileLength} bytes, too short for the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        TensorFileIO.ReadExactly(handle, prefix, 0, path, "header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
            throw new ModelFormatException($"{path}: header length {n} exceeds the {MaxHeaderBytes}-byte limit: corrupt, or not a safetensors file");
        if ((long)n > fileLength - 8)
            throw new ModelFormatException($"{path}: header length {n} runs past the end of the file ({fileLength} bytes): truncated or corrupt");
        var header = new byte[n];
        TensorFileIO.ReadExactly(handle, header, 8, path, "header");

        // Checked up front: JsonDocument defers UTF-8 validation of strings until they are read.
        if (!Utf8.IsValid(header)) throw new ModelFormatException($"{path}: header is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new ModelFormatException($"{path}: header is not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{path}: header must be a JSON object, found {root.ValueKind}");
            long dataStart = 8 + (long)n, dataLength = fileLength - dataStart;
            var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
            Dictionary<string, string>? metadata = null;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (metadata != null) throw new ModelFormatException($"{path}: header has two '__metadata__' entries");
                    metadata = ParseMetadata(path, property.Value);
                }
                else if (!tensors.TryAdd(property.Name, ParseTensor(path, property.Name, property.Value, dataStart, dataLength)))
                    throw new ModelFormatException($"{path}: tensor '{property.Name}' appears twice in the header");
            }
            CheckTiling(path, tensors.Values, dataStart, fileLength);
            return new SafetensorsFile(path, handle, tensors, metadata ?? []);
        }
    }

    static Dictionary<string, string> ParseMetadata(string path, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException($"{path}: '__metadata__' must be an object of strings, found {value.ValueKind}");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new ModelFormatException($"{path}: '__metadata__' key '{p.Name}' must be a string, found {p.Value.ValueKind}");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!))
                throw new ModelFormatException($"{path}: '__metadata__' key '{p.Name}' appears twice");
        }
        return metadata;
    }

    static TensorEntry ParseTensor(string path, string name, JsonElement info, long dataStart, long dataLength)
    {
        string where = $"{path}: tensor '{name}'";
        if (info.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException($"{where}: expected an object with dtype, shape and data_offsets, found {info.ValueKind}");

        string dtypeName = Field(where, info, "dtype", JsonValueKind.String).GetString()!;
        if (!DTypeNames.TryGetValue(dtypeName, out var dtype))
            throw new ModelFormatException($"{where}: dtype '{Clip(dtypeName)}' is not supported (expected one of {string.Join(", ", DTypeNames.Keys)})");

        var shapeJson = Field(where, info, "shape", JsonValueKind.Array);
        int rank = shapeJson.GetArrayLength();
        if (rank > MaxRank) throw new ModelFormatException($"{where}: shape has {rank} dimensions (at most {MaxRank} supported)");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++) shape[i] = NonNegative(where, $"shape[{i}]", shapeJson[i]);

        var offsets = Field(where, info, "data_offsets", JsonValueKind.Array);
        if (offsets.GetArrayLength() != 2)
            throw new ModelFormatException($"{where}: field 'data_offsets' must be [begin, end], found {offsets.GetArrayLength()} items");
        long begin = NonNegative(where, "data_offsets[0]", offsets[0]), end = NonNegative(where, "data_offsets[1]", offsets[1]);
        if (end < begin) throw new ModelFormatException($"{where}: data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw new ModelFormatException($"{where}: data_offsets [{begin}, {end}] run past the end of the data section ({dataLength} bytes): truncated or corrupt");

        string desc = $"{dtypeName}[{string.Join(", ", shape)}]";
        if (!TensorDTypes.TryByteLength(dtype, shape, out long bytes, out string problem))
            throw new ModelFormatException($"{where} {desc}: {problem}");
        if (bytes != end - begin)
            throw new ModelFormatException($"{where} {desc}: expected {bytes} bytes, but data_offsets [{begin}, {end}] span {end - begin}");
        return new TensorEntry(name, dtype, shape, dataStart + begin, bytes);
    }

    static JsonElement Field(string where, JsonElement info, string field, JsonValueKind kind)
    {
        if (!info.TryGetProperty(field, out var value)) throw new ModelFormatException($"{where}: field '{field}' is missing");
        if (value.ValueKind != kind) throw new ModelFormatException($"{where}: field '{field}' must be a JSON {kind}, found {value.ValueKind}");
        return value;
    }

    static long NonNegative(string where, string what, JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long v) && v >= 0 ? v
        : throw new ModelFormatException($"{where}: {what} must be a non-negative 64-bit integer, found {Clip(value.GetRawText())}");

    /// <summary>The ranges must tile the data section, as the Rust library requires: anything else is corruption.</summary>
    static void CheckTiling(string path, IEnumerable<TensorEntry> tensors, long dataStart, long fileLength)
    {
        var sorted = tensors.OrderBy(t => t.Offset).ThenBy(t => t.ByteLength).ToList();
        long expected = dataStart;
        TensorEntry? previous = null;
        foreach (var t in sorted)
        {
            if (t.Offset < expected)
                throw new ModelFormatException($"{path}: tensors '{previous!.Name}' and '{t.Name}' overlap (data_offsets [{previous.Offset - dataStart}, {expected - dataStart}] and [{t.Offset - dataStart}, {t.Offset + t.ByteLength - dataStart}])");
            if (t.Offset > expected)
                throw new ModelFormatException($"{path}: {t.Offset - expected} unused bytes before tensor '{t.Name}': data_offsets must be contiguous");
            expected = t.Offset + t.ByteLength;
            previous = t;
        }
        if (expected != fileLength)
            throw new ModelFormatException($"{path}: {fileLength - expected} bytes follow the last tensor{(previous is null ? "" : $" '{previous.Name}'")}: the data section must end with the last tensor");
    }

    /// <summary>Keeps an attacker-sized value from flooding an error message.</summary>
    static string Clip(string s) => s.Length <= 64 ? s : s[..64] + "…";

    public void ReadBytes(TensorEntry entry, Span<byte> destination)
    {
        if (destination.Length != entry.ByteLength) throw new ArgumentException($"{FilePath}: tensor '{entry.Name}' has {entry.ByteLength} bytes, destination {destination.Length}");
        TensorFileIO.ReadExactly(_handle, destination, entry.Offset, FilePath, $"tensor '{entry.Name}'");
    }

    public void Dispose() => _handle.Dispose();
}
