using System.Reflection;
using System.Reflection.Emit;

namespace Ares.Build.Tests;

/// <summary>
/// The project graph is a one-way chain (<see cref="LayerChain.Intended"/>) and no assembly has namespaces that
/// use each other, both read from the compiled assemblies next to these tests (this project references the CLI,
/// so every Ares assembly is built and copied here). The checkers are tested on hand-made graphs too.
/// </summary>
public class DependencyGraphTests
{
    static string Dll(string name) => Path.Combine(AppContext.BaseDirectory, name + ".dll");

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ares.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException($"Ares.slnx not found above {AppContext.BaseDirectory}");
    }

    [Fact]
    public void Every_Ares_assembly_is_in_the_chain_and_references_only_layers_below_it()
    {
        var built = Directory.GetFiles(AppContext.BaseDirectory, "*.dll").Select(Path.GetFileNameWithoutExtension)
            .Where(n => n!.StartsWith("Ares.", StringComparison.Ordinal) && !n.EndsWith(".Tests", StringComparison.Ordinal) || n == "ares").ToList();
        Assert.Equal(LayerChain.Intended.Order(StringComparer.Ordinal), built.Order(StringComparer.Ordinal));
        var references = LayerChain.Intended.ToDictionary(n => n, n => LayerChain.AssemblyReferences(Dll(n)));
        Assert.Contains("Ares.RedTeam", references["Ares.Repair"]); // the reader sees real references
        Assert.Empty(LayerChain.BackEdges(references, LayerChain.Intended));
    }

    [Fact]
    public void Every_project_file_references_only_layers_below_it()
    {
        var src = Path.Combine(RepoRoot(), "src");
        var projects = Directory.GetFiles(src, "*.csproj", SearchOption.AllDirectories);
        var references = projects.ToDictionary(
            p => Path.GetFileNameWithoutExtension(p) is "Ares.Cli" ? "ares" : Path.GetFileNameWithoutExtension(p),
            LayerChain.ProjectReferences);
        Assert.Equal(LayerChain.Intended.Order(StringComparer.Ordinal), references.Keys.Order(StringComparer.Ordinal));
        Assert.Empty(LayerChain.BackEdges(references, LayerChain.Intended));
    }

    [Theory]
    [InlineData("Ares.Core")]
    [InlineData("Ares.Foundation")]
    [InlineData("Ares.Models")]
    [InlineData("Ares.RedTeam")]
    [InlineData("Ares.Repair")]
    [InlineData("Ares.Attack")]
    [InlineData("Ares.Sandbox")]
    [InlineData("Ares.Reporting")]
    [InlineData("ares")]
    public void No_two_namespaces_of_an_assembly_use_each_other(string assembly)
    {
        var cycles = NamespaceGraph.Cycles(NamespaceGraph.Read(Dll(assembly)));
        Assert.True(cycles.Count == 0, $"{assembly}: namespaces that reach each other: {string.Join("; ", cycles)}");
    }

    [Fact]
    public void The_discovery_layer_reads_its_records_from_below()
    {
        var edges = NamespaceGraph.Read(Dll("Ares.RedTeam"));
        Assert.Contains("Ares.RedTeam.Records", edges["Ares.RedTeam.Store"]);
        Assert.Contains("Ares.RedTeam.Store", edges["Ares.RedTeam.Probe"]);
        Assert.DoesNotContain("Ares.RedTeam.Probe", edges["Ares.RedTeam.Store"]);
    }

    [Fact]
    public void A_reference_up_the_chain_is_a_back_edge()
    {
        IReadOnlyList<string> chain = ["Low", "Mid", "High"];
        var refs = new Dictionary<string, IReadOnlyList<string>>
        {
            ["High"] = ["Mid", "Low", "System.Runtime"], ["Mid"] = ["Low", "High"], ["Low"] = ["Low"],
        };
        Assert.Equal(["Low → Low", "Mid → High"], LayerChain.BackEdges(refs, chain));
        refs["Mid"] = ["Low"];
        refs["Low"] = [];
        Assert.Empty(LayerChain.BackEdges(refs, chain));
    }

    [Fact]
    public void Namespaces_that_reach_each_other_through_a_third_are_a_cycle()
    {
        var edges = new Dictionary<string, IReadOnlySet<string>>
        {
            ["A"] = new HashSet<string> { "B" }, ["B"] = new HashSet<string> { "C" }, ["C"] = new HashSet<string> { "A" }, ["D"] = new HashSet<string> { "A" },
        };
        Assert.Equal(["A ↔ B", "A ↔ C", "B ↔ C"], NamespaceGraph.Cycles(edges));
        edges["C"] = new HashSet<string>();
        Assert.Empty(NamespaceGraph.Cycles(edges));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_cycle_through_a_method_body_is_found_in_a_hand_made_assembly(bool bodyUsesFirstNamespace)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "Cyclic.dll");
        // N1.A holds a field of type N2.B (a signature edge); N3.C derives from N2.B (a base-type edge);
        // N2.B.Make creates an N1.A in its body (an IL edge) when asked to, closing N1 ↔ N2.
        var assembly = new PersistedAssemblyBuilder(new AssemblyName("Cyclic"), typeof(object).Assembly);
        var module = assembly.DefineDynamicModule("Cyclic");
        var a = module.DefineType("N1.A", TypeAttributes.Public | TypeAttributes.Class);
        var b = module.DefineType("N2.B", TypeAttributes.Public | TypeAttributes.Class);
        var c = module.DefineType("N3.C", TypeAttributes.Public | TypeAttributes.Class, b);
        a.DefineField("b", b, FieldAttributes.Public);
        var ctor = a.DefineDefaultConstructor(MethodAttributes.Public);
        var make = b.DefineMethod("Make", MethodAttributes.Public | MethodAttributes.Static, typeof(object), Type.EmptyTypes);
        var il = make.GetILGenerator();
        if (bodyUsesFirstNamespace) il.Emit(OpCodes.Newobj, ctor);
        else il.Emit(OpCodes.Ldnull);
        il.Emit(OpCodes.Ret);
        a.CreateType();
        b.CreateType();
        c.CreateType();
        assembly.Save(path);

        var edges = NamespaceGraph.Read(path);
        Assert.Equal(["N2"], edges["N1"]);
        Assert.Equal(["N2"], edges["N3"]);
        if (bodyUsesFirstNamespace)
        {
            Assert.Equal(["N1"], edges["N2"]);
            Assert.Equal(["N1 ↔ N2"], NamespaceGraph.Cycles(edges));
        }
        else
        {
            Assert.False(edges.ContainsKey("N2"));
            Assert.Empty(NamespaceGraph.Cycles(edges));
        }
    }
}
