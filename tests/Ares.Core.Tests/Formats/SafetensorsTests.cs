using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Ares.Core.Formats;
using static Ares.Core.Tests.Formats.FormatAssert;

namespace Ares.Core.Tests.Formats;

public class SafetensorsTests
{
    /// <summary>One tensor of every dtype (plus a scalar and an empty one) filled with seeded random bytes.</summary>
    internal static List<(TensorToWrite Tensor, byte[] Bytes)> EveryDType(int seed = 7)
    {
        var rng = new Random(seed);
        var specs = new (string Name, TensorDType DType, long[] Shape)[]
        {
            ("f32", TensorDType.F32, [3, 4]), ("f16", TensorDType.F16, [5]), ("bf16", TensorDType.BF16, [2, 3]),
            ("f64", TensorDType.F64, [2, 2]), ("i8", TensorDType.I8, [7]), ("i16", TensorDType.I16, [3]),
            ("i32", TensorDType.I32, [2, 1, 3]), ("i64", TensorDType.I64, [2]), ("u8", TensorDType.U8, [9]),
            ("mask", TensorDType.Bool, [4]), ("scalar", TensorDType.F32, []), ("empty", TensorDType.F32, [0, 3]),
        };
        return specs.Select(s =>
        {
            var bytes = new byte[TensorDTypes.ByteLength(s.DType, s.Shape.Aggregate(1L, (a, b) => a * b))!.Value];
            rng.NextBytes(bytes);
            if (s.DType == TensorDType.Bool) for (int i = 0; i < bytes.Length; i++) bytes[i] &= 1;
            return (TensorToWrite.FromBytes(s.Name, s.DType, s.Shape, bytes), bytes);
        }).ToList();
    }

    [Fact]
    public void Every_dtype_round_trips_byte_for_byte_with_metadata()
    {
        using var dir = new TempDirectory();
        var path = dir.File("all.safetensors");
        var tensors = EveryDType();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓" };
        SafetensorsWriter.Write(path, tensors.Select(t => t.Tensor).ToList(), metadata);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(tensors.Count, file.Tensors.Count);
        var read = ReadAll(file);
        foreach (var (t, bytes) in tensors)
        {
            var entry = file.Tensors[t.Name];
            Assert.Equal(t.DType, entry.DType);
            Assert.Equal(t.Shape, entry.Shape);
            Assert.Equal(bytes, read[t.Name]);
        }
    }

    [Fact]
    public void Data_is_ordered_by_descending_alignment_then_name_and_header_is_space_padded()
    {
        using var dir = new TempDirectory();
        var path = dir.File("order.safetensors");
        SafetensorsWriter.Write(path, EveryDType().Select(t => t.Tensor).ToList(), new Dictionary<string, string> { ["a"] = "b" });

        var bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, n);
        Assert.StartsWith("{\"__metadata__\":{\"a\":\"b\"},", header);
        Assert.Matches("^[^ ]*} *$", header);

        using var file = SafetensorsFile.Open(path);
        var dataOrder = file.Tensors.Values.OrderBy(t => t.Offset).ThenBy(t => t.ByteLength).Select(t => t.Name).ToList();
        // I64 > F64 > F32 > I32 > BF16 > F16 > I16 > I8 > U8 > BOOL; zero-length 'empty' sorts by name among F32s.
        Assert.Equal(["i64", "f64", "empty", "f32", "scalar", "i32", "bf16", "f16", "i16", "i8", "u8", "mask"], dataOrder);
        var headerOrder = JsonDocument.Parse(header).RootElement.EnumerateObject().Select(p => p.Name).Skip(1).ToList();
        Assert.Equal(["i64", "f64", "empty", "f32", "scalar", "i32", "bf16", "f16", "i16", "i8", "u8", "mask"], headerOrder);
    }

    [Theory]
    // Serialisations the Rust library's own tests pin down (tensor.rs test_serialization / _forced_alignement).
    [InlineData("attn.0", new long[] { 1, 2, 3 }, "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}")]
    [InlineData("attn0", new long[] { 1, 1, 2, 3 }, "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ")]
    public void Output_matches_the_reference_library_byte_for_byte(string name, long[] shape, string expectedHeader)
    {
        using var dir = new TempDirectory();
        var path = dir.File("ref.safetensors");
        var data = F32Bytes(0, 1, 2, 3, 4, 5);
        SafetensorsWriter.Write(path, [TensorToWrite.FromBytes(name, TensorDType.F32, shape, data)]);

        var expected = new byte[8].Concat(Encoding.UTF8.GetBytes(expectedHeader)).Concat(data).ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(expected, (ulong)expectedHeader.Length);
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void Streamed_tensors_are_written_through_the_callback()
    {
        using var dir = new TempDirectory();
        var path = dir.File("stream.safetensors");
        var big = new TensorToWrite("big", TensorDType.F32, [1000], s =>
        {
            for (int i = 0; i < 1000; i++) s.Write(BitConverter.GetBytes((float)i));
        });
        SafetensorsWriter.Write(path, [big]);

        using var file = SafetensorsFile.Open(path);
        var values = new float[1000];
        TensorDTypes.ToFloat32(TensorDType.F32, ReadAll(file)["big"], values);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (float)i), values);
    }

    [Fact]
    public void Writes_are_atomic_a_failed_write_leaves_the_old_file_and_no_temp_file()
    {
        using var dir = new TempDirectory();
        var path = dir.File("model.safetensors");
        SafetensorsWriter.Write(path, [TensorToWrite.FromBytes("w", TensorDType.F32, [2], F32Bytes(1, 2))]);
        var before = File.ReadAllBytes(path);

        var shortWrite = new TensorToWrite("w", TensorDType.F32, [2], s => s.Write(F32Bytes(1)));
        var e = Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, [shortWrite]));
        Assert.Contains("'w'", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));

        SafetensorsWriter.Write(path, [TensorToWrite.FromBytes("w", TensorDType.F32, [2], F32Bytes(3, 4))]);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(F32Bytes(3, 4), ReadAll(file)["w"]);
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Writer_rejects_dtypes_safetensors_cannot_hold_and_duplicate_names()
    {
        using var dir = new TempDirectory();
        var q8 = TensorToWrite.FromBytes("q", TensorDType.Q8_0, [32], new byte[34]);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("a.safetensors"), [q8]));
        var w = TensorToWrite.FromBytes("w", TensorDType.U8, [1], new byte[1]);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("b.safetensors"), [w, w]));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Sharded_checkpoint_round_trips_through_the_index()
    {
        using var dir = new TempDirectory();
        var tensors = EveryDType();
        string index = SafetensorsWriter.WriteSharded(dir.Path, tensors.Select(t => t.Tensor).ToList(), maxShardBytes: 40,
            new Dictionary<string, string> { ["format"] = "pt" });

        Assert.Equal(SafetensorsWriter.IndexFileName, Path.GetFileName(index));
        using var sharded = ShardedSafetensors.Open(index);
        Assert.True(sharded.Shards.Count >= 3, $"expected several shards, got {sharded.Shards.Count}");
        Assert.All(sharded.Shards, s => Assert.Matches(@"model-0000\d-of-0000\d\.safetensors$", s.FilePath));
        Assert.Equal(tensors.Sum(t => (long)t.Bytes.Length).ToString(), sharded.Metadata["total_size"]);
        var read = ReadAll(sharded);
        Assert.Equal(tensors.Count, read.Count);
        foreach (var (t, bytes) in tensors) Assert.Equal(bytes, read[t.Name]);
    }
}
