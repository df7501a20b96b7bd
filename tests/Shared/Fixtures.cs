namespace Ares;

/// <summary>Locates ../shared/fixtures from the test output folder (works from any clone layout).</summary>
internal static class Fixtures
{
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "fixtures");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"shared/fixtures not found above {AppContext.BaseDirectory}");
    }

    public static string Stories260KGguf => Path.Combine(Root, "stories260K", "stories260K.gguf");
    public static string Tokenizers => Path.Combine(Root, "tokenizers");
}
