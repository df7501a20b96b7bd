using System.Buffers.Binary;
using System.Text.RegularExpressions;

namespace Ares.Core.Formats;

/// <summary>A whole-model quantisation recipe, named as llama-quantize names its file types.</summary>
internal enum GgufQuantMix { Q4_K_M, Q5_K_M, Q8_0, Q4_0 }

/// <summary>
/// Rewrites a GGUF file with its weight matrices quantised by one of llama.cpp's recipes: the same
/// metadata (plus <c>general.file_type</c>), the same tensors in the same order, each matrix
/// dequantised to fp32 and re-quantised by <see cref="GgufQuantizers"/>.
/// </summary>
/// <remarks>
/// Which type each tensor gets follows llama.cpp's llama_tensor_get_type for these file types:
/// only 2-D-or-more tensors named <c>*weight</c> are quantised (norms and biases keep their type);
/// <c>output.weight</c> (or <c>token_embd.weight</c> when the embeddings are tied) is Q6_K except in
/// Q8_0; in Q4_K_M/Q5_K_M the <c>attn_v</c> and <c>ffn_down</c> matrices of the first and last
/// eighth of the layers and every third layer between (use_more_bits) are Q6_K. A row that is not a
/// whole number of 256-weight super-blocks falls back as llama.cpp does (Q4_K → Q5_0, Q5_K → Q5_1,
/// Q6_K → Q8_0), and to F16 when not even 32 divides it. Not followed: the per-architecture and
/// mixture-of-experts special cases, and importance matrices.
/// </remarks>
internal static partial class GgufQuantizer
{
    public static GgufQuantMix ParseMix(string name) => name.ToLowerInvariant() switch
    {
        "q4_k_m" => GgufQuantMix.Q4_K_M,
        "q5_k_m" => GgufQuantMix.Q5_K_M,
        "q8_0" => GgufQuantMix.Q8_0,
        "q4_0" => GgufQuantMix.Q4_0,
        _ => throw new ArgumentException($"--type '{name}' is not supported: q4_k_m, q5_k_m, q8_0 or q4_0"),
    };

    /// <summary>llama_ftype of each recipe, stored as general.file_type.</summary>
    static uint FileType(GgufQuantMix mix) => mix switch
    {
        GgufQuantMix.Q4_0 => 2,
        GgufQuantMix.Q8_0 => 7,
        GgufQuantMix.Q4_K_M => 15,
        GgufQuantMix.Q5_K_M => 17,
        _ => throw new ArgumentOutOfRangeException(nameof(mix)),
    };

    [GeneratedRegex(@"^blk\.(\d+)\.(attn_v|ffn_down)\.weight$")]
    private static partial Regex MoreBitsCandidate();

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of n layers, and every third layer between.</summary>
    static bool UseMoreBits(int i, int n) => i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;

    /// <summary>
    /// The type <paramref name="name"/> gets under <paramref name="mix"/>, or <paramref name="stored"/>
    /// when it is not quantised. <paramref name="counts"/> holds how many attn_v and ffn_down matrices the file has.
    /// </summary>
    public static TensorDType Choose(GgufQuantMix mix, string name, long[] shape, TensorDType stored,
        IReadOnlyDictionary<string, int> counts, bool hasOutput)
    {
        if (!name.EndsWith("weight", StringComparison.Ordinal) || shape.Length < 2 || !TensorDTypes.IsFloatingPoint(stored)) return stored;
        var baseType = mix switch
        {
            GgufQuantMix.Q4_K_M => TensorDType.Q4_K,
            GgufQuantMix.Q5_K_M => TensorDType.Q5_K,
            GgufQuantMix.Q8_0 => TensorDType.Q8_0,
            _ => TensorDType.Q4_0,
        };
        var type = baseType;
        bool isOutput = name == "output.weight" || (!hasOutput && name == "token_embd.weight");
        if (isOutput && mix != GgufQuantMix.Q8_0) type = TensorDType.Q6_K;
        else if ((mix is GgufQuantMix.Q4_K_M or GgufQuantMix.Q5_K_M) && MoreBitsCandidate().Match(name) is { Success: true } m
            && UseMoreBits(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), counts[m.Groups[2].Value]))
            type = TensorDType.Q6_K;

        long row = shape[^1];
        if (row % GgufQuants.BlockOf(type)!.Value.Elements != 0)
            type = type switch { TensorDType.Q4_K => TensorDType.Q5_0, TensorDType.Q5_K => TensorDType.Q5_1, TensorDType.Q6_K => TensorDType.Q8_0, _ => type };
        if (row % GgufQuants.BlockOf(type)!.Value.Elements != 0) type = TensorDType.F16;
        return type;
    }

    /// <summary>Writes <paramref name="output"/> from <paramref name="input"/>; returns each tensor's name with its old and new type.</summary>
    public static IReadOnlyList<(string Name, TensorDType From, TensorDType To)> Quantize(string input, string output, GgufQuantMix mix)
    {
        if (Path.GetFullPath(input) == Path.GetFullPath(output)) throw new ArgumentException($"{output}: the output must not be the input file");
        using var g = GgufFile.Open(input);
        foreach (var (name, type) in g.UnsupportedTensorTypes)
            throw new NotSupportedException($"{input}: tensor '{name}' has type {type}, which Ares cannot read (supported: {GgufFile.SupportedTypeNames})");

        var counts = new Dictionary<string, int> { ["attn_v"] = 0, ["ffn_down"] = 0 };
        foreach (var name in g.Tensors.Keys)
            if (MoreBitsCandidate().Match(name) is { Success: true } m) counts[m.Groups[2].Value]++;
        bool hasOutput = g.Tensors.ContainsKey("output.weight");

        var plan = new List<(string Name, TensorDType From, TensorDType To)>();
        var tensors = new List<TensorToWrite>();
        foreach (var e in g.Tensors.Values.OrderBy(t => t.Offset)) // file order, as written
        {
            var to = Choose(mix, e.Name, e.Shape, e.DType, counts, hasOutput);
            plan.Add((e.Name, e.DType, to));
            tensors.Add(to == e.DType
                ? new TensorToWrite(e.Name, e.DType, e.Shape, s => CopyRaw(g, e, s))
                : new TensorToWrite(e.Name, to, e.Shape, s => Convert(g, e, to, s)));
        }

        var metadata = g.Metadata.Where(kv => kv.Key is not ("general.file_type" or "general.quantization_version")).ToList();
        metadata.Add(new("general.quantization_version", 2u));
        metadata.Add(new("general.file_type", FileType(mix)));
        GgufWriter.Write(output, metadata, tensors);
        return plan;
    }

    static void CopyRaw(GgufFile g, TensorEntry e, Stream s)
    {
        var bytes = new byte[e.ByteLength];
        g.ReadBytes(e, bytes);
        s.Write(bytes);
    }

    /// <summary>Converts a tensor a slab of rows at a time, so memory stays proportional to the slab, not the tensor.</summary>
    static void Convert(GgufFile g, TensorEntry e, TensorDType to, Stream s)
    {
        long rowElements = e.Shape[^1], rows = e.ElementCount / rowElements;
        long inRowBytes = TensorDTypes.ByteLength(e.DType, rowElements)!.Value, outRowBytes = TensorDTypes.ByteLength(to, rowElements)!.Value;
        long slab = Math.Max(1, (1 << 22) / rowElements);
        for (long r = 0; r < rows; r += slab)
        {
            long n = Math.Min(slab, rows - r);
            var raw = new byte[n * inRowBytes];
            g.ReadBytes(e with { Shape = [n, rowElements], Offset = e.Offset + r * inRowBytes, ByteLength = raw.Length }, raw);
            var floats = new float[n * rowElements];
            var packed = new byte[n * outRowBytes];
            Parallel.For(0, (int)n, i => // rows are independent; Q4_K's scale fitting costs ~1 µs a weight on one core
            {
                var x = floats.AsSpan((int)(i * rowElements), (int)rowElements);
                var y = packed.AsSpan((int)(i * outRowBytes), (int)outRowBytes);
                TensorDTypes.ToFloat32(e.DType, raw.AsSpan((int)(i * inRowBytes), (int)inRowBytes), x);
                if (to == TensorDType.F16)
                    for (int j = 0; j < x.Length; j++) BinaryPrimitives.WriteUInt16LittleEndian(y[(2 * j)..], BitConverter.HalfToUInt16Bits((Half)x[j]));
                else GgufQuantizers.Quantize(to, x, y);
            });
            s.Write(packed);
        }
    }
}
