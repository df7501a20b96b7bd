using System.Reflection;
using System.Text.RegularExpressions;

namespace Ares.Build.Tests;

/// <summary>
/// The line-length cap .editorconfig sets for C# (`max_line_length`), which `dotnet format` does not enforce:
/// every .cs file under src/, tests/ and tools/ keeps to it, except lines that carry a long string literal
/// (corpus sentences, chat templates: data, which wrapping would not make clearer).
/// </summary>
public partial class FormattingTests
{
    static readonly string Root = typeof(FormattingTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "AresRoot").Value!;

    [GeneratedRegex(@"^\s*max_line_length\s*=\s*(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex MaxLineLength();

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.){80,}\"")]
    private static partial Regex LongLiteral();

    internal static int Cap(string editorconfig)
    {
        var section = editorconfig.Split("[*.cs]", 2);
        if (section.Length < 2) throw new InvalidDataException(".editorconfig has no [*.cs] section");
        var body = section[1].Split("\n[", 2)[0];
        var m = MaxLineLength().Match(body);
        return m.Success ? int.Parse(m.Groups[1].Value) : throw new InvalidDataException(".editorconfig [*.cs] sets no max_line_length");
    }

    internal static IEnumerable<string> Violations(string path, IEnumerable<string> lines, int cap) =>
        lines.Select((line, i) => (line, i)).Where(x => x.line.Length > cap && !LongLiteral().IsMatch(x.line))
            .Select(x => $"{path}:{x.i + 1}: {x.line.Length} characters (cap {cap})");

    [Fact]
    public void The_cap_is_read_from_the_cs_section_and_long_code_lines_are_flagged_but_data_literals_are_not()
    {
        Assert.Equal(120, Cap("root = true\n[*]\nmax_line_length = 80\n[*.cs]\nindent_size = 4\nmax_line_length = 120\n[*.json]\nmax_line_length = 60\n"));
        Assert.Throws<InvalidDataException>(() => Cap("[*.cs]\nindent_size = 4\n[*.json]\nmax_line_length = 60\n"));
        string code = "        var x = " + string.Join(" + ", Enumerable.Range(0, 30).Select(i => $"a{i}")) + ";";
        string data = "        \"" + new string('w', 150) + "\",";
        Assert.Equal(["f.cs:1: " + code.Length + " characters (cap 100)"], Violations("f.cs", [code, data, "short"], 100));
    }

    [Fact]
    public void Every_cs_file_keeps_to_the_editorconfig_line_length()
    {
        int cap = Cap(File.ReadAllText(Path.Combine(Root, ".editorconfig")));
        var files = new[] { "src", "tests", "tools" }.Select(d => Path.Combine(Root, d)).Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.NotEmpty(files);
        var bad = files.SelectMany(f => Violations(Path.GetRelativePath(Root, f), File.ReadLines(f), cap)).ToList();
        Assert.True(bad.Count == 0, $"{bad.Count} line(s) over the cap:\n" + string.Join("\n", bad.Take(40)));
    }
}
