using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Probe;

namespace Ares.RedTeam.Sandbox;

/// <summary>JSON conventions of the sandbox files: snake_case, indented, enums as strings, text left readable (no \u escapes for ' or é).</summary>
internal static class SandboxJson
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
