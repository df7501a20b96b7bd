using System.Text.Json;

namespace Ares.Foundation;

/// <summary>JSON conventions of the files Ares writes (sandbox worlds, repair summaries): snake_case, indented, enums as strings, text left readable (no \u escapes for ' or é).</summary>
internal static class SnakeCaseJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>One object per line (JSONL), same conventions, no indentation.</summary>
    public static readonly JsonSerializerOptions Line = new(Options) { WriteIndented = false };
}
