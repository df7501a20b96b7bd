using System.Buffers.Binary;
using System.Diagnostics;
using Ares.Core.Formats;
using Xunit.Abstractions;

namespace Ares.Core.Tests.Formats;

/// <summary>
/// Seeded mutation fuzzing of both readers: every mutated file must open and read, or fail with a
/// <see cref="ModelFormatException"/>, never another exception, in bounded time and memory.
/// </summary>
public sealed class FormatFuzzTests(ITestOutputHelper output) : IDisposable
{
    const int CasesPerFormat = 250;
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    // Values that make length and offset fields interesting: zero, boundaries, sign bits, huge.
    static readonly ulong[] Interesting = [0, 1, 7, 8, 31, 32, 255, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1UL << 32, 1UL << 40, long.MaxValue, 1UL << 63, ulong.MaxValue];
    static readonly byte[] JsonChars = "{}[]\",:-0123456789eE. \\"u8.ToArray();

    [Fact]
    public void Mutated_files_open_or_fail_with_ModelFormatException_only()
    {
        var rng = new Random(20240611);
        byte[] gguf = File.ReadAllBytes(Fixtures.Stories260KGguf);
        long ggufHeader;
        int ggufTensorInfos; // the metadata (mostly the vocabulary) dwarfs the tensor infos, so aim at them too
        using (var g = GgufFile.Open(Fixtures.Stories260KGguf))
        {
            ggufHeader = g.DataOffset;
            string first = g.Tensors.Values.MinBy(t => t.Offset)!.Name;
            ggufTensorInfos = GgufBytes.After(gguf, first) - 8 - first.Length;
        }

        var stPath = _dir.File("seed.safetensors");
        SafetensorsWriter.Write(stPath, SafetensorsTests.EveryDType().Select(t => t.Tensor).ToList(), new Dictionary<string, string> { ["format"] = "pt" });
        byte[] st = File.ReadAllBytes(stPath);
        long stHeader = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(st);

        var clock = Stopwatch.StartNew();
        var (ggufOpened, ggufRejected) = Run("gguf", gguf, ggufTensorInfos, ggufHeader, GgufFile.Open, rng, json: false);
        var (stOpened, stRejected) = Run("safetensors", st, 0, stHeader, SafetensorsFile.Open, rng, json: true);
        output.WriteLine($"gguf: {ggufOpened} opened, {ggufRejected} rejected; safetensors: {stOpened} opened, {stRejected} rejected; {clock.Elapsed.TotalSeconds:F1} s");

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"fuzzing took {clock.Elapsed}");
        Assert.True(ggufRejected > CasesPerFormat / 4 && stRejected > CasesPerFormat / 4, "mutations should mostly break the files");
    }

    (int Opened, int Rejected) Run(string format, byte[] seed, int hotStart, long headerEnd, Func<string, ITensorReader> open, Random rng, bool json)
    {
        int opened = 0, rejected = 0;
        for (int i = 0; i < CasesPerFormat; i++)
        {
            var (bytes, what) = Mutate(seed, hotStart, (int)headerEnd, rng, json);
            var path = _dir.File($"{format}-{i}");
            File.WriteAllBytes(path, bytes);
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using var reader = open(path);
                FormatAssert.ReadAll(reader);
                opened++;
            }
            catch (ModelFormatException e)
            {
                Assert.Contains(path, e.Message);
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{format} case {i} ({what}) threw {e.GetType().Name} instead of ModelFormatException: {e}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            // Reading every tensor costs one copy of the file; headers may add a few more, never more.
            Assert.True(allocated < 4L * bytes.Length + (8 << 20), $"{format} case {i} ({what}) allocated {allocated:N0} bytes for a {bytes.Length:N0}-byte file");
            File.Delete(path);
        }
        return (opened, rejected);
    }

    /// <summary>One to three mutations, mostly inside the header (and its [hotStart, headerEnd) part) where the parser decides.</summary>
    static (byte[] Bytes, string What) Mutate(byte[] seed, int hotStart, int headerEnd, Random rng, bool json)
    {
        var bytes = new List<byte>(seed);
        var what = new List<string>();
        int count = rng.Next(1, 4);
        for (int m = 0; m < count && bytes.Count > 0; m++)
        {
            int end = Math.Min(headerEnd, bytes.Count);
            double region = rng.NextDouble();
            int at = region < 0.4 && hotStart < end ? rng.Next(hotStart, end) : region < 0.85 ? rng.Next(end) : rng.Next(bytes.Count);
            switch (rng.Next(json ? 10 : 5))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << rng.Next(json ? 7 : 8)); // JSON: stay ASCII, past the UTF-8 check
                    what.Add($"flip bit at {at}");
                    break;
                case 1:
                    ulong v = Interesting[rng.Next(Interesting.Length)];
                    int width = rng.Next(2) == 0 ? 4 : 8;
                    at = json ? 0 : Math.Max(0, Math.Min(at, bytes.Count - width)); // safetensors' only binary field is the length
                    for (int k = 0; k < width && at + k < bytes.Count; k++) bytes[at + k] = (byte)(v >> (8 * k));
                    what.Add($"write {v} as {width} bytes at {at}");
                    break;
                case 2:
                    bytes.RemoveRange(at, bytes.Count - at);
                    what.Add($"truncate at {at}");
                    break;
                case 3:
                    var garbage = new byte[rng.Next(1, 33)];
                    rng.NextBytes(garbage);
                    if (json && rng.Next(2) == 0) for (int k = 0; k < garbage.Length; k++) garbage[k] = JsonChars[garbage[k] % JsonChars.Length];
                    bytes.InsertRange(at, garbage);
                    what.Add($"insert {garbage.Length} bytes at {at}");
                    break;
                case 4:
                    int n = Math.Min(rng.Next(1, 33), bytes.Count - at);
                    bytes.RemoveRange(at, n);
                    what.Add($"delete {n} bytes at {at}");
                    break;
                case 5:
                    // A JSON character, or a non-ASCII byte that keeps the structure but makes the text invalid UTF-8.
                    bytes[at] = rng.Next(2) == 0 ? JsonChars[rng.Next(JsonChars.Length)] : (byte)rng.Next(0x80, 0x100);
                    what.Add($"byte 0x{bytes[at]:X2} at {at}");
                    break;
                case >= 6:
                    // Keeps the JSON valid but changes a shape or an offset, reaching the semantic checks.
                    int digit = bytes.FindIndex(rng.Next(end), b => b is >= (byte)'0' and <= (byte)'9');
                    if (digit < 0 || digit >= end) break;
                    bytes[digit] = (byte)('0' + rng.Next(10));
                    what.Add($"digit at {digit}");
                    break;
            }
        }
        return (bytes.ToArray(), string.Join("; ", what));
    }
}
