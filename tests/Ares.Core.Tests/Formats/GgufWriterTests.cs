using System.Buffers.Binary;
using Ares.Core.Formats;
using static Ares.Core.Tests.Formats.FormatAssert;

namespace Ares.Core.Tests.Formats;

public class GgufWriterTests
{
    [Fact]
    public void Metadata_of_every_type_round_trips()
    {
        using var dir = new TempDirectory();
        var path = dir.File("meta.gguf");
        var metadata = new KeyValuePair<string, object>[]
        {
            new("u8", (byte)200), new("i8", (sbyte)-100), new("u16", (ushort)60000), new("i16", (short)-30000),
            new("u32", 4_000_000_000u), new("i32", -2_000_000_000), new("f32", 1.5f), new("bool", true),
            new("str", "héllo ▁world"), new("u64", ulong.MaxValue), new("i64", long.MinValue), new("f64", Math.PI),
            new("strings", new[] { "<unk>", "", "▁the" }), new("ints", new[] { 1, -2, 3 }), new("floats", new[] { -1f, 0.25f }),
            new("bools", new[] { true, false }), new("u64s", new[] { 1UL, 2UL }), new("bytes", new byte[] { 0, 255 }),
        };
        GgufWriter.Write(path, metadata, []);

        using var g = GgufFile.Open(path);
        Assert.Equal(3u, g.Version);
        Assert.Equal(metadata.Select(kv => kv.Key), g.Metadata.Keys);
        foreach (var (key, expected) in metadata)
        {
            var actual = g.Metadata[key];
            Assert.Equal(expected.GetType(), actual.GetType());
            if (expected is Array a) Assert.Equal(a.Cast<object>(), ((Array)actual).Cast<object>());
            else Assert.Equal(expected, actual);
        }
        Assert.Equal(["<unk>", "", "▁the"], g.GetArray<string>("strings")!);
        Assert.Equal([1L, -2L, 3L], g.GetArray<long>("ints")!);
    }

    [Fact]
    public void Tensors_round_trip_with_shapes_outermost_first_and_aligned_data()
    {
        using var dir = new TempDirectory();
        var path = dir.File("tensors.gguf");
        var rng = new Random(3);
        var specs = new (string Name, TensorDType DType, long[] Shape)[]
        {
            ("f32", TensorDType.F32, [3, 5]), ("f16", TensorDType.F16, [7]), ("bf16", TensorDType.BF16, [2, 3, 4]),
            ("q8", TensorDType.Q8_0, [2, 64]), ("i32", TensorDType.I32, [1, 1, 1, 3]),
        };
        var data = specs.ToDictionary(s => s.Name, s =>
        {
            TensorDTypes.TryByteLength(s.DType, s.Shape, out long n, out _);
            var bytes = new byte[n];
            rng.NextBytes(bytes);
            return bytes;
        });
        GgufWriter.Write(path, [new("general.architecture", "test")],
            specs.Select(s => TensorToWrite.FromBytes(s.Name, s.DType, s.Shape, data[s.Name])).ToList());

        using var g = GgufFile.Open(path);
        var read = ReadAll(g);
        foreach (var (name, dtype, shape) in specs)
        {
            var e = g.Tensors[name];
            Assert.Equal(dtype, e.DType);
            Assert.Equal(shape, e.Shape);
            Assert.Equal(0, (e.Offset - g.DataOffset) % 32);
            Assert.Equal(data[name], read[name]);
        }
        // On disk the dimensions are innermost first: 'f32' [3, 5] is stored as 5, 3.
        var bytes = File.ReadAllBytes(path);
        int at = GgufBytes.After(bytes, "f32");
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)));
        Assert.Equal(5UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at + 4)));
        Assert.Equal(3UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at + 12)));
    }

    [Fact]
    public void Alignment_set_in_metadata_is_honoured()
    {
        using var dir = new TempDirectory();
        var path = dir.File("align.gguf");
        GgufWriter.Write(path, [new("general.alignment", 64u)],
            [TensorToWrite.FromBytes("a", TensorDType.F32, [3], F32Bytes(1, 2, 3)), TensorToWrite.FromBytes("b", TensorDType.F32, [1], F32Bytes(4))]);
        using var g = GgufFile.Open(path);
        Assert.Equal(0, g.DataOffset % 64);
        Assert.Equal(64, g.Tensors["b"].Offset - g.Tensors["a"].Offset);
        Assert.Equal(F32Bytes(4), ReadAll(g)["b"]);
    }

    [Fact]
    public void Stories260K_rewritten_by_the_writer_is_byte_identical()
    {
        using var original = GgufFile.Open(Fixtures.Stories260KGguf);
        var tensors = original.Tensors.Values.OrderBy(t => t.Offset)
            .Select(t => new TensorToWrite(t.Name, t.DType, t.Shape, s =>
            {
                var buffer = new byte[t.ByteLength];
                original.ReadBytes(t, buffer);
                s.Write(buffer);
            })).ToList();
        using var dir = new TempDirectory();
        var path = dir.File("copy.gguf");
        GgufWriter.Write(path, original.Metadata, tensors);
        Assert.Equal(File.ReadAllBytes(Fixtures.Stories260KGguf), File.ReadAllBytes(path));
    }

    [Fact]
    public void Q8_0_quantiser_matches_ggml_rounding_half_away_from_zero()
    {
        var x = new float[32];
        x[0] = 127; x[1] = 2.5f; x[2] = -2.5f; x[3] = 0.4f; x[4] = -127;
        var block = new byte[34];
        GgufQuantizers.Quantize(TensorDType.Q8_0, x, block);
        Assert.Equal((Half)1, BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block)));
        Assert.Equal(new sbyte[] { 127, 3, -3, 0, -127 }, block[2..7].Select(b => (sbyte)b));

        var zeros = new byte[34];
        GgufQuantizers.Quantize(TensorDType.Q8_0, new float[32], zeros);
        Assert.All(zeros, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Q8_0_file_dequantises_within_half_a_step_per_block()
    {
        var rng = new Random(11);
        var x = new float[4 * 64];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (1 + i % 7);
        var q = new byte[x.Length / 32 * 34];
        GgufQuantizers.Quantize(TensorDType.Q8_0, x, q);

        using var dir = new TempDirectory();
        var path = dir.File("q8.gguf");
        GgufWriter.Write(path, [], [TensorToWrite.FromBytes("w", TensorDType.Q8_0, [4, 64], q)]);
        using var g = GgufFile.Open(path);
        var back = new float[x.Length];
        TensorDTypes.ToFloat32(TensorDType.Q8_0, ReadAll(g)["w"], back);

        for (int b = 0; b < x.Length / 32; b++)
        {
            float step = x.Skip(b * 32).Take(32).Max(MathF.Abs) / 127;
            // Half a step from rounding, plus the fp16 scale's relative error (2^-11) times |q| ≤ 127.
            float bound = step * (0.5f + 127f / 2048) + 1e-7f;
            for (int j = b * 32; j < b * 32 + 32; j++)
                Assert.True(MathF.Abs(x[j] - back[j]) <= bound, $"element {j}: {x[j]} came back as {back[j]} (bound {bound})");
        }
    }

    [Fact]
    public void Writer_rejects_what_gguf_cannot_hold()
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.gguf");
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, [new("k", new object[] { 1 })], []));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, [new("k", 1m)], []));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, [new("k", 1), new("k", 2)], []));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, [], [TensorToWrite.FromBytes("b", TensorDType.Bool, [1], new byte[1])]));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, [], [TensorToWrite.FromBytes("q", TensorDType.Q8_0, [2, 16], new byte[34])]));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, [], [TensorToWrite.FromBytes("s", TensorDType.F32, [], new byte[4])]));
        Assert.False(File.Exists(path));
    }
}
