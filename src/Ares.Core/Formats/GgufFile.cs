using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Ares.Core.Formats;

/// <summary>
/// Reader for GGUF (llama.cpp / Ollama) files, versions 2 and 3: metadata key–values and tensor
/// infos are parsed and validated when opened; tensor data is read on demand.
/// Shapes are reported outermost-first (GGUF stores them innermost-first).
/// </summary>
/// <remarks>
/// The file is untrusted: every length is checked against the bytes that remain, array and string
/// sizes are capped, and tensor byte ranges must lie inside the data section without overlapping.
/// </remarks>
internal sealed class GgufFile : ITensorReader
{
    const uint Magic = 0x46554747; // "GGUF" little-endian
    const long MaxStringBytes = 1L << 24, MaxArrayElements = 1L << 26, MaxTensors = 1 << 20, MaxKeyValues = 1 << 20;
    const int MaxDims = 4;

    readonly SafeFileHandle _handle;
    public string FilePath { get; }
    public uint Version { get; }
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }
    /// <summary>GGUF type names of tensors whose type Ares cannot load (kept so the model loader can name them).</summary>
    public IReadOnlyDictionary<string, string> UnsupportedTensorTypes { get; }
    public long DataOffset { get; }

    GgufFile(string path, SafeFileHandle handle, uint version, Dictionary<string, object> metadata,
        Dictionary<string, TensorEntry> tensors, Dictionary<string, string> unsupported, long dataOffset)
    {
        FilePath = path; _handle = handle; Version = version; Metadata = metadata; Tensors = tensors;
        UnsupportedTensorTypes = unsupported; DataOffset = dataOffset;
    }

    // ggml_type ids → ours; the rest are named for error messages.
    static readonly Dictionary<uint, TensorDType> Supported = new()
    {
        [0] = TensorDType.F32,
        [1] = TensorDType.F16,
        [2] = TensorDType.Q4_0,
        [3] = TensorDType.Q4_1,
        [6] = TensorDType.Q5_0,
        [7] = TensorDType.Q5_1,
        [8] = TensorDType.Q8_0,
        [10] = TensorDType.Q2_K,
        [11] = TensorDType.Q3_K,
        [12] = TensorDType.Q4_K,
        [13] = TensorDType.Q5_K,
        [14] = TensorDType.Q6_K,
        [24] = TensorDType.I8,
        [25] = TensorDType.I16,
        [26] = TensorDType.I32,
        [27] = TensorDType.I64,
        [28] = TensorDType.F64,
        [30] = TensorDType.BF16,
    };
    static readonly Dictionary<uint, string> GgmlTypeNames = new()
    {
        [0] = "F32",
        [1] = "F16",
        [2] = "Q4_0",
        [3] = "Q4_1",
        [6] = "Q5_0",
        [7] = "Q5_1",
        [8] = "Q8_0",
        [9] = "Q8_1",
        [10] = "Q2_K",
        [11] = "Q3_K",
        [12] = "Q4_K",
        [13] = "Q5_K",
        [14] = "Q6_K",
        [15] = "Q8_K",
        [16] = "IQ2_XXS",
        [17] = "IQ2_XS",
        [18] = "IQ3_XXS",
        [19] = "IQ1_S",
        [20] = "IQ4_NL",
        [21] = "IQ3_S",
        [22] = "IQ2_S",
        [23] = "IQ4_XS",
        [24] = "I8",
        [25] = "I16",
        [26] = "I32",
        [27] = "I64",
        [28] = "F64",
        [29] = "IQ1_M",
        [30] = "BF16",
        [34] = "TQ1_0",
        [35] = "TQ2_0",
        [39] = "MXFP4",
    };
    public static string GgmlTypeName(uint t) => GgmlTypeNames.TryGetValue(t, out var n) ? n : $"type {t}";

    /// <summary>The GGUF tensor types Ares loads, for error messages (F32, F16, …, Q6_K).</summary>
    public static string SupportedTypeNames { get; } = string.Join(", ", Supported.OrderBy(kv => kv.Key)
        .Where(kv => TensorDTypes.IsFloatingPoint(kv.Value)).Select(kv => GgmlTypeNames[kv.Key]));

    /// <summary>The ggml_type id that stores <paramref name="t"/>, or null where GGUF has none (U8, Bool).</summary>
    public static uint? GgmlType(TensorDType t)
    {
        foreach (var (id, dtype) in Supported) if (dtype == t) return id;
        return null;
    }

    public static GgufFile Open(string path)
    {
        var handle = TensorFileIO.OpenRead(path);
        try { return Parse(path, handle); }
        catch { handle.Dispose(); throw; }
    }

    static GgufFile Parse(string path, SafeFileHandle handle)
    {
        var r = new Cursor(path, handle);
        if (r.U32("magic") != Magic) throw new ModelFormatException($"{path}: not a GGUF file (bad magic)");
        uint version = r.U32("version");
        if (BinaryPrimitives.ReverseEndianness(version) is 2 or 3) throw new ModelFormatException($"{path}: big-endian GGUF is not supported");
        if (version is not (2 or 3)) throw new ModelFormatException($"{path}: GGUF version {version} is not supported (expected 2 or 3)");
        long tensorCount = r.Count("tensor_count", MaxTensors);
        long kvCount = r.Count("metadata_kv_count", MaxKeyValues);

        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        for (long i = 0; i < kvCount; i++)
        {
            string key = r.String($"metadata key #{i}");
            uint type = r.U32($"type of metadata key '{key}'");
            object value = r.Value(type, $"metadata key '{key}'");
            if (!metadata.TryAdd(key, value)) throw new ModelFormatException($"{path}: metadata key '{key}' appears twice");
        }

        long alignment = 32;
        if (metadata.TryGetValue("general.alignment", out var a))
        {
            alignment = a is uint u ? u : throw new ModelFormatException($"{path}: metadata key 'general.alignment' must be a uint32");
            if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 1 << 20)
                throw new ModelFormatException($"{path}: metadata key 'general.alignment' = {alignment} is not a power of two ≤ 1 MiB");
        }

        var infos = new List<(string Name, long[] Shape, uint Type, long RelOffset)>();
        for (long i = 0; i < tensorCount; i++)
        {
            string name = r.String($"tensor #{i} name");
            uint nDims = r.U32($"tensor '{name}' n_dims");
            if (nDims is 0 or > MaxDims) throw new ModelFormatException($"{path}: tensor '{name}' has {nDims} dimensions (expected 1–{MaxDims})");
            var dims = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                ulong dim = r.U64($"tensor '{name}' dimension {d}");
                if (dim == 0 || dim > 1UL << 40) throw new ModelFormatException($"{path}: tensor '{name}' dimension {d} = {dim} is out of range");
                dims[d] = (long)dim;
            }
            Array.Reverse(dims); // GGUF is innermost-first; we report outermost-first
            uint type = r.U32($"tensor '{name}' type");
            ulong off = r.U64($"tensor '{name}' offset");
            if (off > long.MaxValue) throw new ModelFormatException($"{path}: tensor '{name}' offset {off} is out of range");
            infos.Add((name, dims, type, (long)off));
        }
        long dataOffset = (r.Position + alignment - 1) / alignment * alignment;
        long fileLength = r.Length;
        if (dataOffset > fileLength && tensorCount > 0) throw new ModelFormatException($"{path}: truncated: data section starts at {dataOffset} past the end ({fileLength} bytes)");

        var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        var unsupported = new Dictionary<string, string>(StringComparer.Ordinal);
        var ranges = new List<(long Start, long End, string Name)>();
        foreach (var (name, shape, type, rel) in infos)
        {
            if (tensors.ContainsKey(name) || unsupported.ContainsKey(name)) throw new ModelFormatException($"{path}: tensor '{name}' appears twice");
            if (rel % alignment != 0) throw new ModelFormatException($"{path}: tensor '{name}' offset {rel} is not aligned to {alignment}");
            // Compared before adding so a huge offset cannot wrap around to a small start.
            if (rel > fileLength - dataOffset)
                throw new ModelFormatException($"{path}: tensor '{name}' offset {rel} is past the end of the file ({fileLength} bytes): truncated or corrupt");
            long start = dataOffset + rel;
            if (!Supported.TryGetValue(type, out var dtype))
            {
                unsupported[name] = GgmlTypeName(type);
                continue; // the loader rejects it, naming the type, if the model needs it
            }
            string desc = $"{dtype}[{string.Join(", ", shape)}]";
            if (!TensorDTypes.TryByteLength(dtype, shape, out long bytes, out string problem))
                throw new ModelFormatException($"{path}: tensor '{name}' {desc}: {problem}");
            if (bytes > fileLength - start)
                throw new ModelFormatException($"{path}: tensor '{name}' ({desc}, {bytes} bytes at {start}) runs past the end of the file ({fileLength} bytes): truncated or corrupt");
            tensors[name] = new TensorEntry(name, dtype, shape, start, bytes);
            ranges.Add((start, start + bytes, name));
        }
        ranges.Sort((x, y) => x.Start.CompareTo(y.Start));
        for (int i = 1; i < ranges.Count; i++)
            if (ranges[i].Start < ranges[i - 1].End)
                throw new ModelFormatException($"{path}: tensors '{ranges[i - 1].Name}' and '{ranges[i].Name}' overlap");
        return new GgufFile(path, handle, version, metadata, tensors, unsupported, dataOffset);
    }

    public void ReadBytes(TensorEntry entry, Span<byte> destination)
    {
        if (destination.Length != entry.ByteLength) throw new ArgumentException($"{FilePath}: tensor '{entry.Name}' has {entry.ByteLength} bytes, destination {destination.Length}");
        TensorFileIO.ReadExactly(_handle, destination, entry.Offset, FilePath, $"tensor '{entry.Name}'");
    }

    // ---- typed metadata accessors (names the key and the expected type on mismatch) ----

    public bool Has(string key) => Metadata.ContainsKey(key);

    public T? Get<T>(string key) where T : struct =>
        !Metadata.TryGetValue(key, out var v) ? null : ConvertNumber<T>(v, key);

    public T Require<T>(string key) where T : struct =>
        Get<T>(key) ?? throw new ModelFormatException($"{FilePath}: required metadata key '{key}' is missing");

    public string? GetString(string key) => !Metadata.TryGetValue(key, out var v) ? null
        : v as string ?? throw new ModelFormatException($"{FilePath}: metadata key '{key}' must be a string, found {Describe(v)}");

    public T[]? GetArray<T>(string key) => !Metadata.TryGetValue(key, out var v) ? null
        : v is T[] arr ? arr
        : v is Array any && typeof(T) != typeof(string) ? ConvertArray<T>(any, key)
        : throw new ModelFormatException($"{FilePath}: metadata key '{key}' must be an array of {typeof(T).Name}, found {Describe(v)}");

    T[] ConvertArray<T>(Array a, string key)
    {
        var result = new T[a.Length];
        for (int i = 0; i < a.Length; i++)
        {
            var item = a.GetValue(i)!;
            if (item is string) throw new ModelFormatException($"{FilePath}: metadata key '{key}' must be an array of {typeof(T).Name}, found strings");
            result[i] = (T)System.Convert.ChangeType(item, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
        }
        return result;
    }

    T ConvertNumber<T>(object v, string key) where T : struct
    {
        if (v is T t) return t;
        if (v is string or Array) throw new ModelFormatException($"{FilePath}: metadata key '{key}' must be a {typeof(T).Name}, found {Describe(v)}");
        try { return (T)System.Convert.ChangeType(v, typeof(T), System.Globalization.CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is InvalidCastException or OverflowException)
        { throw new ModelFormatException($"{FilePath}: metadata key '{key}' = {v} does not fit a {typeof(T).Name}"); }
    }

    static string Describe(object v) => v switch { string => "a string", Array a => $"an array of {a.GetType().GetElementType()!.Name}", _ => $"a {v.GetType().Name}" };

    public void Dispose() => _handle.Dispose();

    /// <summary>
    /// Bounded, buffered sequential reader over the header: every read checks the bytes remaining, and
    /// a 64 KiB window keeps a 150K-token vocabulary from costing a system call per field.
    /// </summary>
    sealed class Cursor(string path, SafeFileHandle handle)
    {
        readonly byte[] _scratch = new byte[8], _window = new byte[1 << 16];
        long _windowStart;
        int _windowLength;
        public long Position { get; private set; }
        public long Length { get; } = RandomAccess.GetLength(handle);

        void Fill(Span<byte> dst, string what)
        {
            if (dst.Length > Length - Position)
                throw new ModelFormatException($"{path}: truncated while reading {what} at byte {Position} (file has {Length} bytes)");
            while (!dst.IsEmpty)
            {
                long inWindow = Position - _windowStart;
                if (inWindow < 0 || inWindow >= _windowLength)
                {
                    _windowStart = Position;
                    _windowLength = RandomAccess.Read(handle, _window, Position);
                    if (_windowLength <= 0) throw new ModelFormatException($"{path}: unexpected end of file while reading {what}");
                    continue;
                }
                int n = Math.Min(dst.Length, _windowLength - (int)inWindow);
                _window.AsSpan((int)inWindow, n).CopyTo(dst);
                dst = dst[n..];
                Position += n;
            }
        }

        Span<byte> Take(int n, string what) { var s = _scratch.AsSpan(0, n); Fill(s, what); return s; }
        public uint U32(string what) => BitConverter.ToUInt32(Take(4, what));
        public ulong U64(string what) => BitConverter.ToUInt64(Take(8, what));

        public long Count(string what, long max)
        {
            ulong n = U64(what);
            if (n > (ulong)max) throw new ModelFormatException($"{path}: {what} = {n} exceeds the limit of {max}");
            return (long)n;
        }

        public string String(string what)
        {
            ulong n = U64($"length of {what}");
            if (n > (ulong)MaxStringBytes) throw new ModelFormatException($"{path}: {what}: string length {n} exceeds the limit of {MaxStringBytes} bytes");
            if ((long)n > Length - Position)
                throw new ModelFormatException($"{path}: {what}: string length {n} runs past the end of the file ({Length - Position} bytes remain)");
            var bytes = new byte[n];
            Fill(bytes, what);
            return Encoding.UTF8.GetString(bytes);
        }

        public object Value(uint type, string what)
        {
            switch (type)
            {
                case 0: return Take(1, what)[0];
                case 1: return (sbyte)Take(1, what)[0];
                case 2: return BitConverter.ToUInt16(Take(2, what));
                case 3: return BitConverter.ToInt16(Take(2, what));
                case 4: return U32(what);
                case 5: return BitConverter.ToInt32(Take(4, what));
                case 6: return BitConverter.ToSingle(Take(4, what));
                case 7:
                    byte b = Take(1, what)[0];
                    return b switch { 0 => false, 1 => true, _ => throw new ModelFormatException($"{path}: {what}: bool byte {b} is not 0 or 1") };
                case 8: return String(what);
                case 10: return U64(what);
                case 11: return BitConverter.ToInt64(Take(8, what));
                case 12: return BitConverter.ToDouble(Take(8, what));
                case 9:
                    uint itemType = U32($"{what} array item type");
                    long n = Count($"{what} array length", MaxArrayElements);
                    long minItem = itemType switch { 0 or 1 or 7 => 1, 2 or 3 => 2, 4 or 5 or 6 => 4, 8 or 10 or 11 or 12 => 8, _ => 1 };
                    if (n * minItem > Length - Position) throw new ModelFormatException($"{path}: {what}: array of {n} items runs past the end of the file");
                    return ReadArray(itemType, n, what);
                default:
                    throw new ModelFormatException($"{path}: {what}: unknown value type {type}");
            }
        }

        // Numeric arrays are read in one block (no per-item boxing), so memory stays proportional to the file.
        Array ReadArray(uint itemType, long n, string what)
        {
            switch (itemType)
            {
                case 0: return Numbers<byte>(n, what);
                case 1: return Numbers<sbyte>(n, what);
                case 2: return Numbers<ushort>(n, what);
                case 3: return Numbers<short>(n, what);
                case 4: return Numbers<uint>(n, what);
                case 5: return Numbers<int>(n, what);
                case 6: return Numbers<float>(n, what);
                case 10: return Numbers<ulong>(n, what);
                case 11: return Numbers<long>(n, what);
                case 12: return Numbers<double>(n, what);
                case 7:
                    var bytes = Numbers<byte>(n, what);
                    int bad = bytes.AsSpan().IndexOfAnyExcept((byte)0, (byte)1);
                    if (bad >= 0) throw new ModelFormatException($"{path}: {what}: bool item {bad} is byte {bytes[bad]}, not 0 or 1");
                    return Array.ConvertAll(bytes, b => b == 1);
                case 8:
                    var strings = new string[n];
                    for (long i = 0; i < n; i++) strings[i] = String(what);
                    return strings;
                default:
                    throw new ModelFormatException($"{path}: {what}: array item type {itemType} is unknown or a nested array (not supported)");
            }
        }

        T[] Numbers<T>(long n, string what) where T : unmanaged
        {
            var items = new T[n]; // n was checked against the bytes remaining
            Fill(MemoryMarshal.AsBytes(items.AsSpan()), what);
            return items;
        }
    }
}
