using System.Buffers.Binary;
using System.Text;
using Ares.Core.Formats;
using static Ares.Core.Tests.Formats.FormatAssert;

namespace Ares.Core.Tests.Formats;

/// <summary>Finds fields in a GGUF file's bytes so tests can corrupt exactly one of them.</summary>
internal static class GgufBytes
{
    /// <summary>Index just past the GGUF string <paramref name="s"/> (its u64 length, then its bytes).</summary>
    public static int After(byte[] file, string s)
    {
        var text = Encoding.UTF8.GetBytes(s);
        var pattern = new byte[8 + text.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(pattern, (ulong)text.Length);
        text.CopyTo(pattern, 8);
        int at = file.AsSpan().IndexOf(pattern);
        Assert.True(at >= 0, $"'{s}' not found");
        return at + pattern.Length;
    }

    /// <summary>Positions of a tensor info's fields: type and offset follow n_dims and the dimensions.</summary>
    public static (int Dims, int Type, int Offset) TensorInfo(byte[] file, string name)
    {
        int at = After(file, name);
        int nDims = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at));
        return (at + 4, at + 4 + 8 * nDims, at + 8 + 8 * nDims);
    }
}

/// <summary>Every malformed GGUF file is a <see cref="ModelFormatException"/> naming the file and the key or tensor.</summary>
public sealed class GgufBadInputTests : IDisposable
{
    readonly TempDirectory _dir = new();
    readonly byte[] _good;
    static readonly Func<string, ITensorReader> Open = GgufFile.Open;

    public GgufBadInputTests()
    {
        var path = _dir.File("good.gguf");
        GgufWriter.Write(path,
            [new("general.architecture", "llama"), new("general.name", "tiny"), new("tokenizer.ggml.tokens", new[] { "a", "b", "c" })],
            [TensorToWrite.FromBytes("alpha", TensorDType.F32, [2, 8], new byte[64]), TensorToWrite.FromBytes("beta", TensorDType.F32, [8], new byte[32])]);
        _good = File.ReadAllBytes(path);
    }

    public void Dispose() => _dir.Dispose();

    string Corrupt(Action<byte[]> edit)
    {
        var bytes = (byte[])_good.Clone();
        edit(bytes);
        var path = _dir.File($"{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    string WithU64(int at, ulong value) => Corrupt(b => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), value));
    string WithU32(int at, uint value) => Corrupt(b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), value));

    [Fact]
    public void The_unmodified_file_opens() // guards the corruption helpers
    {
        using var g = GgufFile.Open(Corrupt(_ => { }));
        Assert.Equal(2, g.Tensors.Count);
    }

    [Fact]
    public void Bad_magic_is_rejected() => Rejects(Open, Corrupt(b => b[0] = (byte)'X'), "bad magic");

    [Theory]
    [InlineData(1u, "version 1")]
    [InlineData(4u, "version 4")]
    [InlineData(0x03000000u, "big-endian")]
    public void Unsupported_versions_are_rejected(uint version, string detail) => Rejects(Open, WithU32(4, version), detail);

    [Fact]
    public void Truncated_files_are_rejected_at_every_cut_point()
    {
        int data = _good.Length - 96; // alpha (64 bytes) and beta (32) end the file
        foreach (int cut in new[] { 2, 10, 30, GgufBytes.After(_good, "general.name") - 2, GgufBytes.After(_good, "alpha") + 6, data - 1, data, _good.Length - 1 })
        {
            var path = _dir.File($"cut{cut}.gguf");
            File.WriteAllBytes(path, _good[..cut]);
            var e = Rejects(Open, path);
            if (cut >= data) Assert.Matches("tensor '(alpha|beta)'", e.Message);
        }
    }

    [Fact]
    public void String_length_past_the_end_names_the_key()
    {
        int lengthField = GgufBytes.After(_good, "general.name") + 4;
        Rejects(Open, WithU64(lengthField, 1 << 20), "metadata key 'general.name'", "past the end");
        Rejects(Open, WithU64(lengthField, 1UL << 40), "metadata key 'general.name'", "exceeds the limit");
    }

    [Fact]
    public void Absurd_array_length_names_the_key_and_allocates_nothing()
    {
        int lengthField = GgufBytes.After(_good, "tokenizer.ggml.tokens") + 8;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Rejects(Open, WithU64(lengthField, 1UL << 40), "metadata key 'tokenizer.ggml.tokens'", "exceeds the limit");
        Rejects(Open, WithU64(lengthField, 1 << 20), "metadata key 'tokenizer.ggml.tokens'", "past the end");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4_000_000);
    }

    [Fact]
    public void Unknown_value_type_names_the_key() =>
        Rejects(Open, WithU32(GgufBytes.After(_good, "general.name"), 99), "metadata key 'general.name'", "unknown value type 99");

    [Theory]
    [InlineData(1UL << 20, "past the end")]
    [InlineData(0x7FFF_FFFF_FFFF_FFE0UL, "past the end")] // would wrap around if added to the data offset unchecked
    [InlineData(ulong.MaxValue - 31, "out of range")]
    public void Tensor_offset_past_the_end_names_the_tensor(ulong offset, string detail) =>
        Rejects(Open, WithU64(GgufBytes.TensorInfo(_good, "alpha").Offset, offset), "tensor 'alpha'", detail);

    [Fact]
    public void Overlapping_tensors_are_named() =>
        Rejects(Open, WithU64(GgufBytes.TensorInfo(_good, "beta").Offset, 32), "'alpha'", "'beta'", "overlap");

    [Fact]
    public void Unaligned_offset_names_the_tensor() =>
        Rejects(Open, WithU64(GgufBytes.TensorInfo(_good, "beta").Offset, 68), "tensor 'beta'", "not aligned to 32");

    [Fact]
    public void Tensor_running_past_the_end_names_the_tensor() =>
        Rejects(Open, WithU64(GgufBytes.TensorInfo(_good, "beta").Dims, 64), "tensor 'beta'", "runs past the end");

    [Theory]
    [InlineData(0UL, "dimension 0 = 0")]
    [InlineData(1UL << 41, "out of range")]
    public void Absurd_dimensions_name_the_tensor(ulong dim, string detail) =>
        Rejects(Open, WithU64(GgufBytes.TensorInfo(_good, "alpha").Dims, dim), "tensor 'alpha'", detail);

    [Fact]
    public void Dimension_product_overflow_names_the_tensor()
    {
        int dims = GgufBytes.TensorInfo(_good, "alpha").Dims;
        Rejects(Open, Corrupt(b =>
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(dims), 1UL << 40);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(dims + 8), 1UL << 40);
        }), "tensor 'alpha'", "overflows");
    }

    [Fact]
    public void Too_many_dimensions_names_the_tensor() =>
        Rejects(Open, WithU32(GgufBytes.TensorInfo(_good, "alpha").Dims - 4, 5), "tensor 'alpha'", "5 dimensions");

    [Fact]
    public void Q8_0_rows_must_be_whole_blocks()
    {
        var path = _dir.File("q8.gguf");
        GgufWriter.Write(path, [], [TensorToWrite.FromBytes("q", TensorDType.Q8_0, [2, 32], new byte[68])]);
        var bytes = File.ReadAllBytes(path);
        int dims = GgufBytes.TensorInfo(bytes, "q").Dims;
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(dims), 16); // innermost 16, outer 4: 64 values, half-blocks
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(dims + 8), 4);
        File.WriteAllBytes(path, bytes);
        Rejects(Open, path, "tensor 'q'", "innermost dimension");
    }

    [Fact]
    public void Unsupported_tensor_type_is_recorded_by_name_and_the_rest_still_loads()
    {
        using var g = GgufFile.Open(WithU32(GgufBytes.TensorInfo(_good, "alpha").Type, 16)); // 16 = IQ2_XXS
        Assert.Equal("IQ2_XXS", g.UnsupportedTensorTypes["alpha"]);
        Assert.False(g.Tensors.ContainsKey("alpha"));
        Assert.Equal(new byte[32], ReadAll(g)["beta"]);
    }

    [Fact]
    public void Duplicate_keys_and_tensors_are_rejected()
    {
        var path = _dir.File("dup.gguf");
        GgufWriter.Write(path, [new("key.a", 1), new("key.b", 2)],
            [TensorToWrite.FromBytes("ta", TensorDType.F32, [1], new byte[4]), TensorToWrite.FromBytes("tb", TensorDType.F32, [1], new byte[4])]);
        var bytes = File.ReadAllBytes(path);
        bytes[GgufBytes.After(bytes, "key.b") - 1] = (byte)'a';
        File.WriteAllBytes(path, bytes);
        Rejects(Open, path, "metadata key 'key.a'", "twice");
        bytes[GgufBytes.After(bytes, "key.a") - 1] = (byte)'b';
        bytes[GgufBytes.After(bytes, "tb") - 1] = (byte)'a';
        File.WriteAllBytes(path, bytes);
        Rejects(Open, path, "tensor 'ta'", "twice");
    }

    [Fact]
    public void Alignment_that_is_not_a_power_of_two_is_rejected()
    {
        var path = _dir.File("align.gguf");
        GgufWriter.Write(path, [new("general.alignment", 32u)], [TensorToWrite.FromBytes("t", TensorDType.F32, [1], new byte[4])]);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(GgufBytes.After(bytes, "general.alignment") + 4), 48);
        File.WriteAllBytes(path, bytes);
        Rejects(Open, path, "'general.alignment'", "power of two");
    }
}
