using System.Text.Json;
using System.Text.Unicode;

namespace Ares.Core.Formats;

/// <summary>
/// A Hugging Face sharded checkpoint: <c>model.safetensors.index.json</c>
/// (<c>{"metadata": {...}, "weight_map": {tensor: shard file}}</c>) and the shards beside it,
/// presented as one reader. Opening checks that the index and the shards agree exactly: every
/// listed tensor is in its shard, every shard tensor is listed, and no tensor is in two shards.
/// </summary>
internal sealed class ShardedSafetensors : ITensorReader
{
    const long MaxIndexBytes = SafetensorsFile.MaxHeaderBytes;

    readonly Dictionary<string, SafetensorsFile> _owner;
    /// <summary>The index file.</summary>
    public string FilePath { get; }
    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }
    /// <summary>The index's <c>metadata</c>; non-string values (<c>total_size</c>) as their JSON text.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyList<SafetensorsFile> Shards { get; }

    ShardedSafetensors(string path, Dictionary<string, string> metadata, List<SafetensorsFile> shards,
        Dictionary<string, SafetensorsFile> owner, Dictionary<string, TensorEntry> tensors)
    {
        FilePath = path; Metadata = metadata; Shards = shards; _owner = owner; Tensors = tensors;
    }

    public static ShardedSafetensors Open(string indexPath)
    {
        var (metadata, weightMap) = ReadIndex(indexPath);
        string directory = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (string file in weightMap.Values.Distinct())
            {
                try { shards[file] = SafetensorsFile.Open(Path.Combine(directory, file)); }
                catch (ModelFormatException e) { throw new ModelFormatException($"{indexPath}: shard '{file}': {e.Message}", e); }
            }

            var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
            foreach (var (file, shard) in shards)
                foreach (var (name, entry) in shard.Tensors)
                {
                    if (owner.TryGetValue(name, out var other))
                        throw new ModelFormatException($"{indexPath}: tensor '{name}' is in two shards, '{Path.GetFileName(other.FilePath)}' and '{file}'");
                    if (!weightMap.TryGetValue(name, out string? listed))
                        throw new ModelFormatException($"{indexPath}: shard '{file}' holds tensor '{name}', which weight_map does not list");
                    if (listed != file)
                        throw new ModelFormatException($"{indexPath}: weight_map puts tensor '{name}' in '{listed}', but shard '{file}' holds it");
                    owner[name] = shard;
                    tensors[name] = entry;
                }
            foreach (var (name, file) in weightMap)
                if (!tensors.ContainsKey(name))
                    throw new ModelFormatException($"{indexPath}: weight_map puts tensor '{name}' in '{file}', but that shard ({shards[file].FilePath}) does not contain it");
            return new ShardedSafetensors(indexPath, metadata, [.. shards.Values], owner, tensors);
        }
        catch
        {
            foreach (var shard in shards.Values) shard.Dispose();
            throw;
        }
    }

    static (Dictionary<string, string> Metadata, Dictionary<string, string> WeightMap) ReadIndex(string path)
    {
        byte[] bytes;
        using (var handle = TensorFileIO.OpenRead(path))
        {
            long length = RandomAccess.GetLength(handle);
            if (length > MaxIndexBytes) throw new ModelFormatException($"{path}: index is {length} bytes, over the {MaxIndexBytes}-byte limit");
            bytes = new byte[length];
            TensorFileIO.ReadExactly(handle, bytes, 0, path, "index");
        }
        if (!Utf8.IsValid(bytes)) throw new ModelFormatException($"{path}: index is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes); }
        catch (JsonException e) { throw new ModelFormatException($"{path}: index is not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: index must be a JSON object, found {root.ValueKind}");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind != JsonValueKind.Null)
            {
                if (meta.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: 'metadata' must be an object, found {meta.ValueKind}");
                foreach (var p in meta.EnumerateObject())
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }

            if (!root.TryGetProperty("weight_map", out var map)) throw new ModelFormatException($"{path}: 'weight_map' is missing");
            if (map.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: 'weight_map' must be an object, found {map.ValueKind}");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new ModelFormatException($"{path}: weight_map entry for tensor '{p.Name}' must be a shard file name, found {p.Value.ValueKind}");
                string file = p.Value.GetString()!;
                // Shards sit beside the index; a path could make an untrusted index read any file.
                if (file.Length == 0 || file is "." or ".." || file.IndexOfAny(['/', '\\']) >= 0 || Path.IsPathRooted(file))
                    throw new ModelFormatException($"{path}: weight_map entry for tensor '{p.Name}' names shard '{file}', which is not a plain file name");
                if (!weightMap.TryAdd(p.Name, file)) throw new ModelFormatException($"{path}: weight_map lists tensor '{p.Name}' twice");
            }
            if (weightMap.Count == 0) throw new ModelFormatException($"{path}: weight_map is empty");
            return (metadata, weightMap);
        }
    }

    public void ReadBytes(TensorEntry entry, Span<byte> destination)
    {
        if (!_owner.TryGetValue(entry.Name, out var shard) || !ReferenceEquals(shard.Tensors[entry.Name], entry))
            throw new ArgumentException($"{FilePath}: tensor '{entry.Name}' is not an entry of this checkpoint");
        shard.ReadBytes(entry, destination);
    }

    public void Dispose()
    {
        foreach (var shard in Shards) shard.Dispose();
    }
}
