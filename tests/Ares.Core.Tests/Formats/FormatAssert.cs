using Ares.Core.Formats;

namespace Ares.Core.Tests.Formats;

internal static class FormatAssert
{
    /// <summary>Reads every tensor, so a test sees errors that only surface when the data is touched.</summary>
    public static Dictionary<string, byte[]> ReadAll(ITensorReader reader) =>
        reader.Tensors.Values.ToDictionary(t => t.Name, t =>
        {
            var bytes = new byte[t.ByteLength];
            reader.ReadBytes(t, bytes);
            return bytes;
        });

    /// <summary>Opening (and reading) <paramref name="path"/> fails with a message naming the file and each of <paramref name="mentions"/>.</summary>
    public static ModelFormatException Rejects(Func<string, ITensorReader> open, string path, params string[] mentions)
    {
        var e = Assert.Throws<ModelFormatException>(() =>
        {
            using var reader = open(path);
            ReadAll(reader);
        });
        Assert.Contains(path, e.Message);
        foreach (var m in mentions) Assert.Contains(m, e.Message);
        return e;
    }

    public static byte[] F32Bytes(params float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
