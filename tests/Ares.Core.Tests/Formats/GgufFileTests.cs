using Ares.Core.Formats;

namespace Ares.Core.Tests.Formats;

public class GgufFileTests
{
    [Fact]
    public void Stories260K_metadata_and_tensors_are_read()
    {
        using var g = GgufFile.Open(Fixtures.Stories260KGguf);
        Assert.Equal("llama", g.GetString("general.architecture"));
        Assert.Equal(64u, g.Require<uint>("llama.embedding_length"));
        Assert.Equal(5u, g.Require<uint>("llama.block_count"));
        var emb = g.Tensors["token_embd.weight"];
        Assert.Equal(new long[] { 512, 64 }, emb.Shape);
        Assert.Equal(TensorDType.F32, emb.DType);
        Assert.Equal(512, g.GetArray<string>("tokenizer.ggml.tokens")!.Length);
        Assert.Empty(g.UnsupportedTensorTypes);
    }

    [Fact]
    public void Stories260K_tensors_all_read_as_finite_fp32_and_tile_the_data_section()
    {
        using var g = GgufFile.Open(Fixtures.Stories260KGguf);
        Assert.Equal(48, g.Tensors.Count);
        foreach (var (name, bytes) in FormatAssert.ReadAll(g))
        {
            var values = new float[bytes.Length / 4];
            TensorDTypes.ToFloat32(TensorDType.F32, bytes, values);
            Assert.All(values, v => Assert.True(float.IsFinite(v), name));
        }
        var last = g.Tensors.Values.MaxBy(t => t.Offset)!;
        Assert.Equal(new FileInfo(Fixtures.Stories260KGguf).Length, last.Offset + last.ByteLength);
    }
}
