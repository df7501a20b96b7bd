namespace Ares.Foundation.Tests;

/// <summary>Every config (probe, repair, eval, attack, catalog, demo eval section) opens its file through these two functions.</summary>
public class ConfigReaderTests
{
    sealed class TestConfigException(string message) : Exception(message);

    static Exception Fail(string m) => new TestConfigException(m);

    [Fact]
    public void A_missing_file_is_the_config_types_own_error_naming_the_path()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ares-missing-{Guid.NewGuid():N}.json");
        var e = Assert.Throws<TestConfigException>(() => ConfigReader.ReadFile(path, "probe config", Fail));
        Assert.Equal($"{path}: probe config not found", e.Message);
    }

    [Fact]
    public void Comments_and_trailing_commas_are_read_and_paths_resolve_beside_the_file()
    {
        var (root, r) = ConfigReader.Open("{ // a comment\n \"out\": \"runs\", }", "/configs/probe.json", Fail);
        Assert.Equal("runs", (string?)root["out"]);
        Assert.Equal(Path.GetFullPath("/configs/runs"), r.PathOf("runs"));
    }

    [Theory]
    [InlineData("[1, 2]", "/c/x.json: expected a JSON object")]
    [InlineData("{ \"out\": ", "/c/x.json: not valid JSON")]
    public void Not_an_object_or_not_json_is_one_error_naming_the_file(string json, string expected)
    {
        var e = Assert.Throws<TestConfigException>(() => ConfigReader.Open(json, "/c/x.json", Fail));
        Assert.StartsWith(expected, e.Message);
    }
}
