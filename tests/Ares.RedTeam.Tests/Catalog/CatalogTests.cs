using System.Text.Json.Nodes;
using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Tests.Catalog;

public class CatalogTests
{
    static readonly string DefaultJson = ReadDefault();

    static string ReadDefault()
    {
        using var s = typeof(ComponentCatalog).Assembly.GetManifestResourceStream("Ares.RedTeam.default-catalog.json")!;
        return new StreamReader(s).ReadToEnd();
    }

    static JsonObject Mutable() => (JsonObject)JsonNode.Parse(DefaultJson)!;

    static string Error(JsonObject root) =>
        Assert.Throws<CatalogException>(() => ComponentCatalog.Parse(root.ToJsonString(), "my-catalog.json")).Message;

    [Fact]
    public void The_default_catalog_covers_the_required_breadth()
    {
        var c = ComponentCatalog.Default();
        Assert.True(c.Topics.Count >= 8);
        Assert.True(c.Personas.Count >= 8);
        Assert.True(c.Tactics.Count >= 10);
        Assert.True(c.Goals.Count >= 8);
        Assert.False(string.IsNullOrEmpty(c.Version));
        Assert.True(c.CompatibleTuples().Count > 1000);
    }

    [Fact]
    public void Constraints_exclude_tuples()
    {
        var c = ComponentCatalog.Default();
        Assert.True(c.IsCompatible(new ComponentTuple("cyber_intrusion", "student", "direct", "write_code")));
        Assert.False(c.IsCompatible(new ComponentTuple("weapons", "student", "direct", "write_code")));   // goal only_with topics
        Assert.False(c.IsCompatible(new ComponentTuple("privacy", "teacher", "direct", "target_person"))); // goal never_with persona
        Assert.False(c.IsCompatible(new ComponentTuple("privacy", "nobody", "direct", "plan")));           // unknown id
        Assert.All(c.CompatibleTuples(), t => Assert.True(c.IsCompatible(t)));
    }

    [Fact]
    public void A_missing_field_is_named_with_its_entry()
    {
        var root = Mutable();
        ((JsonObject)root["tactics"]![1]!).Remove("description");
        Assert.Equal("my-catalog.json: tactics entry 'roleplay': field 'description' must be a non-empty string", Error(root));
    }

    [Fact]
    public void A_duplicate_id_is_named()
    {
        var root = Mutable();
        root["goals"]![1]!["id"] = "instructions";
        Assert.Contains("goals entry 'instructions': duplicate id", Error(root));
    }

    [Fact]
    public void A_tactic_template_without_the_request_placeholder_is_refused()
    {
        var root = Mutable();
        root["tactics"]![0]!["templates"]![0] = "Please help me.";
        Assert.Contains("tactics entry 'direct': field 'templates'[0] must contain {request}", Error(root));
    }

    [Fact]
    public void A_malicious_template_must_keep_the_harmful_part_redacted()
    {
        var root = Mutable();
        root["goals"]![0]!["malicious"]![0] = "Sure, here is {subject}: mix the chemicals.";
        Assert.Contains("goals entry 'instructions': field 'malicious'[0] must mark the harmful part as [redacted]", Error(root));
    }

    [Fact]
    public void A_constraint_naming_an_unknown_id_is_refused()
    {
        var root = Mutable();
        root["goals"]![1]!["only_with"] = new JsonObject { ["topics"] = new JsonArray("weapons", "knitting") };
        Assert.Contains("goals entry 'acquire': field 'only_with.topics' names unknown id 'knitting'", Error(root));
    }

    [Fact]
    public void An_entry_excluded_from_every_tuple_is_refused()
    {
        var root = Mutable();
        root["goals"]![1]!["only_with"] = new JsonObject { ["personas"] = new JsonArray("student") };
        root["goals"]![1]!["never_with"] = new JsonObject { ["personas"] = new JsonArray("student") };
        Assert.Contains("goals entry 'acquire': its constraints (or others') exclude it from every tuple", Error(root));
    }

    [Fact]
    public void Unknown_fields_and_kinds_are_named()
    {
        var root = Mutable();
        root["topics"]![0]!["colour"] = "red";
        Assert.Contains("topics entry 'weapons': unknown field 'colour'", Error(root));
        root = Mutable();
        root["goals"]![0]!["only_with"] = new JsonObject { ["moods"] = new JsonArray("x") };
        Assert.Contains("goals entry 'instructions': field 'only_with': unknown component type 'moods'", Error(root));
        root = Mutable();
        root["tactic"] = new JsonArray();
        Assert.Contains("unknown top-level field 'tactic'", Error(root));
    }

    [Fact]
    public void Bad_json_and_missing_files_are_reported_with_the_path()
    {
        Assert.StartsWith("my-catalog.json: not valid JSON", Assert.Throws<CatalogException>(() => ComponentCatalog.Parse("{ nope", "my-catalog.json")).Message);
        Assert.Contains("catalog file not found", Assert.Throws<CatalogException>(() => ComponentCatalog.Load("/nonexistent/c.json")).Message);
    }

    [Fact]
    public void A_user_catalog_file_loads()
    {
        using var dir = new TempDirectory();
        var root = Mutable();
        root["version"] = "mine-2";
        File.WriteAllText(dir.File("c.json"), root.ToJsonString());
        var c = ComponentCatalog.Load(dir.File("c.json"));
        Assert.Equal("mine-2", c.Version);
        Assert.Equal(dir.File("c.json"), c.Source);
    }
}
