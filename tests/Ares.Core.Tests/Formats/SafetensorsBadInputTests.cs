using System.Buffers.Binary;
using System.Text;
using Ares.Core.Formats;
using static Ares.Core.Tests.Formats.FormatAssert;

namespace Ares.Core.Tests.Formats;

/// <summary>Every malformed safetensors file is a <see cref="ModelFormatException"/> naming the file and the culprit.</summary>
public sealed class SafetensorsBadInputTests : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    static readonly Func<string, ITensorReader> Open = SafetensorsFile.Open;

    /// <summary>A file with this exact header text and <paramref name="dataBytes"/> zero bytes of data.</summary>
    string Raw(string header, long dataBytes, ulong? declaredLength = null)
    {
        var path = _dir.File($"{Guid.NewGuid():N}.safetensors");
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static string Tensor(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    [Fact]
    public void A_well_formed_raw_file_opens() // guards the helpers the other tests rely on
    {
        using var f = SafetensorsFile.Open(Raw("{" + Tensor("w", "F32", "[2]", 0, 8) + "}", 8));
        Assert.Equal([2L], f.Tensors["w"].Shape);
    }

    [Fact]
    public void Truncated_files_are_rejected_at_every_cut_point()
    {
        var full = _dir.File("full.safetensors");
        SafetensorsWriter.Write(full, SafetensorsTests.EveryDType().Select(t => t.Tensor).ToList());
        var bytes = File.ReadAllBytes(full);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        foreach (int cut in new[] { 0, 5, 8, 8 + n / 2, 8 + n, 8 + n + 1, bytes.Length - 1 })
        {
            var path = _dir.File($"cut{cut}.safetensors");
            File.WriteAllBytes(path, bytes[..cut]);
            var e = Rejects(Open, path);
            if (cut > 8 + n) Assert.Contains("'", e.Message); // past the header, the message names a tensor
        }
    }

    [Fact]
    public void Last_tensor_cut_short_is_named() =>
        Rejects(Open, Raw("{" + Tensor("a", "F32", "[2]", 0, 8) + "," + Tensor("last", "F32", "[2]", 8, 16) + "}", 12), "'last'", "past the end");

    [Fact]
    public void Header_length_past_the_end_is_rejected() =>
        Rejects(Open, Raw("{}", 0, declaredLength: 1000), "header length 1000", "past the end");

    [Fact]
    public void Absurd_header_length_is_rejected_without_allocating_it()
    {
        // A sparse file bigger than the cap, so the cap itself (not "past the end") must catch it.
        var path = _dir.File("huge.safetensors");
        using (var fs = File.Create(path))
        {
            fs.Write(BitConverter.GetBytes(150_000_000UL));
            fs.SetLength(160_000_000);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        Rejects(Open, path, "150000000", "limit");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000);
        Rejects(Open, Raw("{}", 0, declaredLength: ulong.MaxValue), "limit");
    }

    [Theory]
    [InlineData("{\"w\": ")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",}}")]
    [InlineData("not json at all")]
    [InlineData("")]
    public void Malformed_json_is_rejected(string header) => Rejects(Open, Raw(header, 0), "JSON");

    [Fact]
    public void Header_that_is_not_an_object_or_not_utf8_is_rejected()
    {
        Rejects(Open, Raw("[1, 2]", 0), "object");
        // A Latin-1 'é' in a tensor name: JsonDocument would accept it and only fail (with a different
        // exception type) when the name is decoded, so the reader must check UTF-8 itself.
        var path = Raw("{\"X\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
        var bytes = File.ReadAllBytes(path);
        bytes[10] = 0xE9;
        File.WriteAllBytes(path, bytes);
        Rejects(Open, path, "UTF-8");
    }

    [Theory]
    [InlineData("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype", "missing")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", "shape", "missing")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "data_offsets", "missing")]
    [InlineData("{\"w\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype", "String")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", "shape", "Array")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", "shape[0]", "2.5")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "data_offsets", "[begin, end]")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", "data_offsets[1]", "\"8\"")]
    [InlineData("{\"w\":[\"F32\"]}", "dtype, shape and data_offsets", "Array")]
    public void Missing_or_ill_typed_fields_name_the_tensor_and_field(string header, string field, string detail) =>
        Rejects(Open, Raw(header, 8), "tensor 'w'", field, detail);

    [Theory]
    [InlineData("F8_E4M3")]
    [InlineData("U16")]
    [InlineData("f32")]
    public void Unknown_dtype_is_named(string dtype) =>
        Rejects(Open, Raw("{" + Tensor("w", dtype, "[8]", 0, 8) + "}", 8), "tensor 'w'", $"'{dtype}'");

    [Fact]
    public void Out_of_range_offsets_are_rejected()
    {
        Rejects(Open, Raw("{" + Tensor("w", "F32", "[2]", 0, 8) + "}", 4), "tensor 'w'", "[0, 8]", "past the end");
        Rejects(Open, Raw("{" + Tensor("w", "F32", "[2]", 8, 0) + "}", 8), "tensor 'w'", "end before they begin");
        Rejects(Open, Raw("{" + Tensor("w", "F32", "[2]", 0, long.MaxValue) + "}", 8), "tensor 'w'", "past the end");
        Rejects(Open, Raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", 8), "tensor 'w'", "data_offsets[1]");
    }

    [Fact]
    public void Overlapping_offsets_name_both_tensors() =>
        Rejects(Open, Raw("{" + Tensor("a", "F32", "[2]", 0, 8) + "," + Tensor("b", "F32", "[2]", 4, 12) + "}", 12), "'a'", "'b'", "overlap");

    [Fact]
    public void Holes_and_trailing_bytes_are_rejected_as_the_reference_library_does()
    {
        Rejects(Open, Raw("{" + Tensor("a", "F32", "[1]", 0, 4) + "," + Tensor("b", "F32", "[1]", 8, 12) + "}", 12), "'b'", "4 unused bytes");
        Rejects(Open, Raw("{" + Tensor("a", "F32", "[1]", 0, 4) + "}", 12), "'a'", "8 bytes follow");
    }

    [Fact]
    public void Shape_that_disagrees_with_the_byte_range_states_what_was_expected() =>
        Rejects(Open, Raw("{" + Tensor("w", "F32", "[3]", 0, 8) + "}", 8), "tensor 'w'", "F32[3]", "expected 12 bytes", "span 8");

    [Theory]
    [InlineData("[-1]", "shape[0]")]
    [InlineData("[2, -4]", "shape[1]")]
    [InlineData("[1099511627776, 1099511627776]", "overflows")]
    [InlineData("[4611686018427387904]", "byte size overflows")]
    [InlineData("[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "17 dimensions")]
    public void Negative_or_absurd_dimensions_are_rejected(string shape, string detail) =>
        Rejects(Open, Raw("{" + Tensor("w", "F32", shape, 0, 8) + "}", 8), "tensor 'w'", detail);

    [Fact]
    public void Bad_metadata_and_duplicate_names_are_rejected()
    {
        Rejects(Open, Raw("{\"__metadata__\":{\"format\":1}}", 0), "'format'", "string");
        Rejects(Open, Raw("{\"__metadata__\":[]}", 0), "__metadata__");
        Rejects(Open, Raw("{" + Tensor("w", "U8", "[1]", 0, 1) + "," + Tensor("w", "U8", "[1]", 1, 2) + "}", 2), "'w'", "twice");
    }

    [Fact]
    public void Missing_file_is_a_format_error_naming_it() => Rejects(Open, _dir.File("absent.safetensors"), "cannot open");
}
