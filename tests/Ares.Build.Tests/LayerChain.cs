using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace Ares.Build.Tests;

/// <summary>
/// The intended order of the Ares assemblies, lowest first: each may use only those before it, so the
/// dependency arrows run one way. A reference to the same or a later layer is a back-edge.
/// </summary>
internal static class LayerChain
{
    /// <summary>Assembly names, lowest layer first ("ares" is the CLI).</summary>
    public static readonly IReadOnlyList<string> Intended =
        ["Ares.Core", "Ares.Foundation", "Ares.Models", "Ares.RedTeam", "Ares.Repair", "Ares.Attack", "Ares.Sandbox", "Ares.Reporting", "ares"];

    /// <summary>Every "from → to" in <paramref name="references"/> where <c>to</c> is not strictly below <c>from</c> in <paramref name="chain"/>; names outside the chain are ignored.</summary>
    public static IReadOnlyList<string> BackEdges(IReadOnlyDictionary<string, IReadOnlyList<string>> references, IReadOnlyList<string> chain)
    {
        var rank = chain.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => x.i);
        return [.. references
            .Where(r => rank.ContainsKey(r.Key))
            .SelectMany(r => r.Value.Where(rank.ContainsKey).Where(to => rank[to] >= rank[r.Key]).Select(to => $"{r.Key} → {to}"))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>The assemblies a compiled assembly references (its AssemblyRef table: what its code actually uses).</summary>
    public static IReadOnlyList<string> AssemblyReferences(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        return [.. md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name))];
    }

    /// <summary>The assembly names a project file's ProjectReferences point to (by project file name; the CLI's is "ares").</summary>
    public static IReadOnlyList<string> ProjectReferences(string csproj) =>
        [.. XDocument.Load(csproj).Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value))
            .Select(name => name == "Ares.Cli" ? "ares" : name)];
}
