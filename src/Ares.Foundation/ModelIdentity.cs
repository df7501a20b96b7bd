using System.Security.Cryptography;

namespace Ares.Foundation;

/// <summary>
/// Where a model came from, for provenance: a local path with a content hash, an endpoint with a
/// model name, or a built-in component (e.g. the template mentor) with its version.
/// </summary>
internal sealed record ModelIdentity(string Kind, string Location, string? ContentHash = null, string? ModelName = null)
{
    /// <summary>A local model: HF directory or GGUF file, hashed over its weight, config and tokenizer files.</summary>
    public static ModelIdentity ForLocal(string path) => new("local", Path.GetFullPath(path), ContentHashOf(path));

    /// <summary>A remote endpoint. The API key is never part of the identity.</summary>
    public static ModelIdentity ForEndpoint(string endpoint, string model) => new("endpoint", endpoint, null, model);

    public static ModelIdentity BuiltIn(string name, string version) => new("builtin", name, null, version);

    public override string ToString() => Kind switch
    {
        "local" => $"{Location} (sha256:{ContentHash?[..16]})",
        "endpoint" => $"{ModelName} @ {Location}",
        _ => $"{Location} {ModelName}".Trim(),
    };

    /// <summary>SHA-256 over the names and bytes of the files that define the model, in name order.</summary>
    public static string ContentHashOf(string path)
    {
        string[] files;
        if (Directory.Exists(path))
            files = Directory.GetFiles(path)
                .Where(f => Path.GetFileName(f) is var n && (n.EndsWith(".safetensors") || n.EndsWith(".json") || n.EndsWith(".gguf")))
                .Order(StringComparer.Ordinal).ToArray();
        else if (File.Exists(path)) files = [path];
        else throw new FileNotFoundException($"{path}: no such model file or directory");
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var f in files)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(f) + "\n"));
            using var s = File.OpenRead(f);
            int n;
            while ((n = s.Read(buffer)) > 0) sha.AppendData(buffer, 0, n);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
