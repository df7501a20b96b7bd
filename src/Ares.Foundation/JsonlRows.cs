using System.Text.Json;

namespace Ares.Foundation;

/// <summary>One object line of a JSONL file, with where it came from for error messages.</summary>
internal readonly record struct JsonlRow(string Path, int Line, JsonElement Json)
{
    /// <summary>"file:line", the prefix of every error about this row.</summary>
    public string Where => $"{Path}:{Line}";

    /// <summary>A string field; a missing (or null) one is an error unless <paramref name="optional"/>.</summary>
    public string? Text(string field, bool optional = false)
    {
        if (!Json.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
            return optional ? null : throw new InvalidDataException($"{Where}: missing string field \"{field}\"");
        if (v.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{Where}: field \"{field}\" must be a string, got {v.ValueKind}");
        return v.GetString();
    }
}

/// <summary>
/// The JSONL files Ares reads (sandbox data, preference pairs, seed attacks, eval results): one JSON
/// object a line, blank lines skipped, every error naming the file and line.
/// </summary>
internal static class JsonlRows
{
    /// <summary>The object rows of <paramref name="path"/>, lazily; <paramref name="what"/> names the file in "not found".</summary>
    public static IEnumerable<JsonlRow> Read(string path, string what)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: {what} not found", path);
        return Rows(path);
    }

    static IEnumerable<JsonlRow> Rows(string path)
    {
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonElement json;
            try
            {
                using var doc = JsonDocument.Parse(text);
                json = doc.RootElement.Clone();
            }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{line}: not a JSON object ({e.Message})", e); }
            if (json.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}:{line}: expected a JSON object, got {json.ValueKind}");
            yield return new JsonlRow(path, line, json);
        }
    }
}
