using Ares.Core.Formats;
using static Ares.Core.Tests.Formats.FormatAssert;

namespace Ares.Core.Tests.Formats;

/// <summary>An index that disagrees with its shards is rejected, naming the index or the shard.</summary>
public sealed class ShardedSafetensorsTests : IDisposable
{
    readonly TempDirectory _dir = new();
    readonly string _index;
    static readonly Func<string, ITensorReader> Open = ShardedSafetensors.Open;

    public ShardedSafetensorsTests()
    {
        // Two shards: a.safetensors holds 'x' and 'y', b.safetensors holds 'z'.
        SafetensorsWriter.Write(_dir.File("a.safetensors"),
            [TensorToWrite.FromBytes("x", TensorDType.F32, [1], F32Bytes(1)), TensorToWrite.FromBytes("y", TensorDType.F32, [1], F32Bytes(2))]);
        SafetensorsWriter.Write(_dir.File("b.safetensors"), [TensorToWrite.FromBytes("z", TensorDType.F32, [1], F32Bytes(3))]);
        _index = _dir.File(SafetensorsWriter.IndexFileName);
    }

    public void Dispose() => _dir.Dispose();

    string Index(string json)
    {
        File.WriteAllText(_index, json);
        return _index;
    }

    const string Good = """{"metadata": {"total_size": 12, "note": "n"}, "weight_map": {"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}""";

    [Fact]
    public void A_consistent_index_presents_the_union_of_its_shards()
    {
        using var sharded = ShardedSafetensors.Open(Index(Good));
        Assert.Equal(["x", "y", "z"], sharded.Tensors.Keys.Order());
        Assert.Equal(F32Bytes(3), ReadAll(sharded)["z"]);
        Assert.Equal("12", sharded.Metadata["total_size"]);
        Assert.Equal("n", sharded.Metadata["note"]);
        var foreign = sharded.Tensors["z"] with { Offset = 0 };
        Assert.Throws<ArgumentException>(() => sharded.ReadBytes(foreign, new byte[4]));
    }

    [Fact]
    public void Tensor_missing_from_its_shard_is_named() =>
        Rejects(Open, Index(Good.Replace("\"z\": \"b.safetensors\"", "\"z\": \"b.safetensors\", \"ghost\": \"b.safetensors\"")), "'ghost'", "does not contain");

    [Fact]
    public void Tensor_in_two_shards_is_named_with_both()
    {
        SafetensorsWriter.Write(_dir.File("c.safetensors"), [TensorToWrite.FromBytes("x", TensorDType.F32, [1], F32Bytes(9))]);
        var e = Rejects(Open, Index(Good.Replace("\"z\": \"b.safetensors\"", "\"z\": \"b.safetensors\", \"w\": \"c.safetensors\"")), "'x'", "two shards");
        Assert.Contains("a.safetensors", e.Message);
        Assert.Contains("c.safetensors", e.Message);
    }

    [Fact]
    public void Shard_tensor_the_index_does_not_list_is_named() =>
        Rejects(Open, Index(Good.Replace("\"y\": \"a.safetensors\", ", "")), "'y'", "does not list");

    [Fact]
    public void Tensor_listed_under_the_wrong_shard_is_named() =>
        Rejects(Open, Index(Good.Replace("\"y\": \"a.safetensors\"", "\"y\": \"b.safetensors\"")), "'y'", "in 'b.safetensors'", "shard 'a.safetensors' holds it");

    [Theory]
    [InlineData("../a.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("sub\\\\a.safetensors")]
    [InlineData("..")]
    public void Shard_names_that_are_paths_are_rejected(string shard) =>
        Rejects(Open, Index(Good.Replace("\"z\": \"b.safetensors\"", $"\"z\": \"{shard}\"")), "'z'", "not a plain file name");

    [Theory]
    [InlineData("""{"metadata": {}}""", "'weight_map' is missing")]
    [InlineData("""{"weight_map": []}""", "'weight_map' must be an object")]
    [InlineData("""{"weight_map": {}}""", "weight_map is empty")]
    [InlineData("""{"weight_map": {"x": 1}}""", "tensor 'x'")]
    [InlineData("""{"weight_map": {"x": "a.safetensors", "x": "a.safetensors"}}""", "'x' twice")]
    [InlineData("""{"weight_map": {"x": "a.safetensors",""", "JSON")]
    [InlineData("""[]""", "JSON object")]
    public void Malformed_indexes_are_rejected(string json, string detail) => Rejects(Open, Index(json), detail);

    [Fact]
    public void Missing_or_corrupt_shard_names_the_shard()
    {
        File.Delete(_dir.File("b.safetensors"));
        Rejects(Open, Index(Good), "b.safetensors", "cannot open");
        File.WriteAllBytes(_dir.File("b.safetensors"), new byte[4]);
        Rejects(Open, Index(Good), "b.safetensors", "truncated");
    }
}
