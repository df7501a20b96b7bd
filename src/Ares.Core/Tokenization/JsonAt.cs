using System.Text.Json;
using Ares.Core.Formats;

namespace Ares.Core.Tokenization;

/// <summary>
/// A JSON value together with the file and JSON path it came from, so that every complaint about
/// tokenizer.json / tokenizer_config.json names both (e.g. "tokenizer.json: $.model.type: ...").
/// </summary>
internal readonly struct JsonAt(string file, string path, JsonElement value)
{
    public string File => file;
    public string Path => path;
    public JsonElement Value => value;

    /// <summary>Parses a whole file; malformed JSON becomes a <see cref="ModelFormatException"/> naming the file.</summary>
    public static JsonAt Parse(string file, byte[] utf8)
    {
        // Not disposed: the document backs every JsonAt handed out; its pooled buffers are simply collected.
        try { return new JsonAt(file, "$", JsonDocument.Parse(utf8.AsMemory(), new JsonDocumentOptions { AllowTrailingCommas = true }).RootElement); }
        catch (JsonException e) { throw new ModelFormatException($"{file}: malformed JSON: {e.Message}", e); }
    }

    /// <summary>The member <paramref name="name"/>, or null when absent or JSON null.</summary>
    public JsonAt? Opt(string name) =>
        value.ValueKind == JsonValueKind.Object && value.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null
            ? new JsonAt(file, $"{path}.{name}", v) : null;

    public JsonAt Req(string name) => Opt(name) ?? throw Malformed($"required member '{name}' is missing");

    public string Str() => value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Malformed($"expected a string, found {value.ValueKind}");
    public string Str(string name) => Req(name).Str();
    public string? OptStr(string name) => Opt(name)?.Str();

    public bool Bool(string name, bool fallback) => Opt(name) is not { } v ? fallback
        : v.Value.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw v.Malformed("expected true or false") };

    public int Int() => value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int i) ? i : throw Malformed($"expected an integer, found {value}");
    public int Int(string name, int fallback) => Opt(name) is { } v ? v.Int() : fallback;

    /// <summary>The "type" member that selects a normalizer, pre-tokenizer, model, decoder or post-processor.</summary>
    public string Type => Str("type");

    public IEnumerable<JsonAt> Items()
    {
        if (value.ValueKind != JsonValueKind.Array) throw Malformed($"expected an array, found {value.ValueKind}");
        int i = 0;
        foreach (var item in value.EnumerateArray()) yield return new JsonAt(file, $"{path}[{i++}]", item);
    }

    public IEnumerable<(string Name, JsonAt Value)> Members()
    {
        if (value.ValueKind != JsonValueKind.Object) throw Malformed($"expected an object, found {value.ValueKind}");
        foreach (var p in value.EnumerateObject()) yield return (p.Name, new JsonAt(file, $"{path}.{p.Name}", p.Value));
    }

    public ModelFormatException Malformed(string what) => new($"{file}: {path}: {what}");
    public NotSupportedException Unsupported(string what) => new($"{file}: {path}: {what} is not supported");
}
