using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Ares.Core.Formats;

/// <summary>File access shared by the checkpoint readers and writers.</summary>
internal static class TensorFileIO
{
    /// <summary>Opens a checkpoint for positional reads; a missing or unreadable file is a <see cref="ModelFormatException"/> naming it.</summary>
    public static SafeFileHandle OpenRead(string path)
    {
        try { return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        { throw new ModelFormatException($"{path}: cannot open: {e.Message}", e); }
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; a short read (file truncated since it was validated) names the file and what was being read.</summary>
    public static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset, string path, string what)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(handle, destination, offset);
            if (n <= 0) throw new ModelFormatException($"{path}: {what}: unexpected end of file at byte {offset}");
            destination = destination[n..];
            offset += n;
        }
    }

    /// <summary>
    /// Writes <paramref name="path"/> via a temporary file in the same directory that is flushed to disk
    /// and then renamed over it, so a crash or a concurrent reader never sees a half-written checkpoint.
    /// </summary>
    public static void WriteAtomically(string path, Action<FileStream> write)
    {
        string full = Path.GetFullPath(path);
        string tmp = $"{full}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            File.Delete(tmp); // no-op when it was never created
            throw;
        }
    }
}

/// <summary>
/// A tensor for a checkpoint writer: name, element type, shape (outermost first) and a callback that
/// streams exactly <see cref="ByteLength"/> little-endian bytes, so writers never hold a whole model in memory.
/// </summary>
internal sealed record TensorToWrite(string Name, TensorDType DType, long[] Shape, Action<Stream> WriteData)
{
    public static TensorToWrite FromBytes(string name, TensorDType dtype, long[] shape, ReadOnlyMemory<byte> bytes) =>
        new(name, dtype, shape, s => s.Write(bytes.Span));

    public long ByteLength => TensorDTypes.TryByteLength(DType, Shape, out long bytes, out string problem) ? bytes
        : throw new ArgumentException($"tensor '{Name}' {DType}[{string.Join(", ", Shape)}]: {problem}");

    /// <summary>Streams the data, checking the callback wrote exactly the bytes the shape and dtype call for.</summary>
    public void WriteTo(Stream stream)
    {
        long expected = ByteLength, before = stream.Position;
        WriteData(stream);
        long wrote = stream.Position - before;
        if (wrote != expected)
            throw new InvalidOperationException($"tensor '{Name}' {DType}[{string.Join(", ", Shape)}]: wrote {wrote} bytes, expected {expected}");
    }
}
