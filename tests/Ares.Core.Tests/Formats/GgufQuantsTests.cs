using System.Buffers.Binary;
using Ares.Core.Formats;

namespace Ares.Core.Tests.Formats;

public class GgufQuantsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // Type names, not the internal enum, so the theories can be public.
    public static TheoryData<string> AllTypes() => [.. GgufQuants.Types.Select(t => t.ToString())];
    public static TheoryData<string> WritableTypes() => [.. GgufQuantizers.Types.Select(t => t.ToString())];

    /// <summary>fp16 bit patterns for d / dmin / m: zeros of both signs, the smallest and largest subnormals, the smallest normal, the largest finite of both signs, ±1, and infinity.</summary>
    static readonly ushort[] ExtremeHalves = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C00, 0xBC00, 0x7C00, 0x2E66, 0xB123];

    /// <summary>Byte offsets of each type's fp16 fields (ggml-common.h).</summary>
    static int[] HalfFields(TensorDType t) => t switch
    {
        TensorDType.Q4_0 or TensorDType.Q5_0 or TensorDType.Q8_0 => [0],
        TensorDType.Q4_1 or TensorDType.Q5_1 or TensorDType.Q4_K or TensorDType.Q5_K => [0, 2],
        TensorDType.Q2_K => [80, 82],
        TensorDType.Q3_K => [108],
        TensorDType.Q6_K => [208],
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>
    /// Random blocks whose fp16 fields cycle through <see cref="ExtremeHalves"/> (every pairing of d with
    /// dmin across blocks), plus 256 blocks whose bytes outside the fp16 fields all equal the block number,
    /// so every byte value sits at every scale position.
    /// </summary>
    static byte[] Blocks(TensorDType t, int randomBlocks, int seed)
    {
        int size = ReferenceDequantizer.BlockBytes(t), total = randomBlocks + 256;
        var data = new byte[total * size];
        new Random(seed).NextBytes(data.AsSpan(0, randomBlocks * size));
        var fields = HalfFields(t);
        for (int b = 0; b < total; b++)
        {
            var block = data.AsSpan(b * size, size);
            if (b >= randomBlocks) block.Fill((byte)(b - randomBlocks));
            for (int f = 0; f < fields.Length; f++)
            {
                ushort h = b % 7 == 6 ? BinaryPrimitives.ReadUInt16LittleEndian(block[fields[f]..]) // keep some random
                    : ExtremeHalves[(b / (f == 0 ? 1 : ExtremeHalves.Length) + f * 5) % ExtremeHalves.Length];
                if (BitConverter.UInt16BitsToHalf(h) is var v && Half.IsNaN(v)) h = 0x3C00; // random bytes can spell NaN; keep values comparable
                BinaryPrimitives.WriteUInt16LittleEndian(block[fields[f]..], h);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Block_geometry_matches_ggml_common_h(string type)
    {
        var t = Enum.Parse<TensorDType>(type);
        var (n, bytes) = GgufQuants.BlockOf(t)!.Value;
        Assert.Equal(ReferenceDequantizer.BlockElements(t), n);
        Assert.Equal(ReferenceDequantizer.BlockBytes(t), bytes);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Dequantisation_matches_the_reference_bit_for_bit_on_random_and_extreme_blocks(string type)
    {
        var t = Enum.Parse<TensorDType>(type);
        var data = Blocks(t, 600, seed: (int)t);
        var expected = ReferenceDequantizer.Dequantize(t, data);
        var actual = new float[expected.Length];
        TensorDTypes.ToFloat32(t, data, actual);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{t} weight {i} (block {i / GgufQuants.BlockOf(t)!.Value.Elements}): reference {expected[i]:R} (0x{BitConverter.SingleToInt32Bits(expected[i]):X8}), Ares {actual[i]:R} (0x{BitConverter.SingleToInt32Bits(actual[i]):X8})");
        Assert.Contains(expected, v => float.IsInfinity(v)); // the extremes were reached
        Assert.Contains(expected, v => v != 0 && MathF.Abs(v) < 1e-6f); // and so were the subnormal scales
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void The_test_blocks_cover_every_code_and_every_sub_block_scale_and_min(string type)
    {
        var t = Enum.Parse<TensorDType>(type);
        var data = Blocks(t, 600, seed: (int)t);
        int n = ReferenceDequantizer.BlockElements(t), size = ReferenceDequantizer.BlockBytes(t);
        int subBlock = t is TensorDType.Q4_K or TensorDType.Q5_K ? 32 : 16, subBlocks = n / subBlock;
        var codes = new HashSet<int>();
        var scales = Enumerable.Range(0, subBlocks).Select(_ => new HashSet<int>()).ToArray();
        var mins = Enumerable.Range(0, subBlocks).Select(_ => new HashSet<int>()).ToArray();
        for (int b = 0; b < data.Length / size; b++)
        {
            var block = data.AsSpan(b * size, size).ToArray();
            for (int e = 0; e < n; e++)
            {
                var w = ReferenceDequantizer.Decode(t, block, e);
                codes.Add(w.Code);
                if (w.ScaleCode >= 0) scales[e / subBlock % subBlocks].Add(w.ScaleCode);
                if (w.MinCode >= 0) mins[e / subBlock % subBlocks].Add(w.MinCode);
            }
        }
        int codeCount = t switch
        {
            TensorDType.Q2_K => 4,
            TensorDType.Q3_K => 8,
            TensorDType.Q4_0 or TensorDType.Q4_1 or TensorDType.Q4_K => 16,
            TensorDType.Q5_0 or TensorDType.Q5_1 or TensorDType.Q5_K => 32,
            TensorDType.Q6_K => 64,
            _ => 256,
        };
        Assert.Equal(codeCount, codes.Count);
        (int scaleCount, int minCount) = t switch
        {
            TensorDType.Q2_K => (16, 16),
            TensorDType.Q3_K => (64, 0),
            TensorDType.Q4_K or TensorDType.Q5_K => (64, 64),
            TensorDType.Q6_K => (256, 0),
            _ => (0, 0),
        };
        for (int s = 0; s < subBlocks && scaleCount > 0; s++)
        {
            Assert.True(scales[s].Count == scaleCount, $"{t} sub-block {s}: {scales[s].Count} of {scaleCount} scale codes seen");
            Assert.True(mins[s].Count == minCount, $"{t} sub-block {s}: {mins[s].Count} of {minCount} min codes seen");
        }
    }

    [Fact]
    public void K4_scale_and_min_packing_reads_both_halves()
    {
        // Sub-blocks 0–3: low six bits of bytes j and j+4. Sub-blocks 4–7: nibbles of byte j+4, top bits from bytes j−4 and j.
        var scales = new byte[12];
        scales[1] = 0b11_101010; scales[5] = 0b01_010101; scales[9] = 0x3C;
        Assert.Equal((0b101010, 0b010101), GgufQuants.ScaleMinK4(1, scales));
        Assert.Equal((0xC | 0b11 << 4, 0x3 | 0b01 << 4), GgufQuants.ScaleMinK4(5, scales));
    }

    [Theory]
    [MemberData(nameof(WritableTypes))]
    public void Quantise_then_dequantise_stays_within_a_step_of_each_block(string type)
    {
        var t = Enum.Parse<TensorDType>(type);
        var rng = new Random(5);
        var (n, bytes) = GgufQuants.BlockOf(t)!.Value;
        int blocks = 64;
        var x = new float[blocks * n];
        for (int i = 0; i < x.Length; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            x[i] = (float)(g * (0.01 + i / n % 5)) + (i / n % 3 == 0 ? 0.5f : 0); // varied scales, some shifted blocks
        }
        var packed = new byte[blocks * bytes];
        GgufQuantizers.Quantize(t, x, packed);
        var back = new float[x.Length];
        GgufQuants.Dequantize(t, packed, back);
        Assert.Equal(ReferenceDequantizer.Dequantize(t, packed), back);

        int levels = t switch { TensorDType.Q4_0 or TensorDType.Q4_1 or TensorDType.Q4_K => 15, TensorDType.Q5_0 or TensorDType.Q5_1 or TensorDType.Q5_K => 31, TensorDType.Q6_K => 62, _ => 254 };
        double sumErr2 = 0, sumX2 = 0;
        for (int b = 0; b < blocks; b++)
        {
            var xb = x.AsSpan(b * n, n).ToArray();
            float range = MathF.Max(xb.Max(), 0) - MathF.Min(xb.Min(), 0);
            // One step of the coarsest grid a block can use (its range, taken to include 0, over the code count), with
            // 15% slack: rounding gives half a step, the 6/8-bit sub-block scales and fp16 super-scales the rest.
            float bound = range / levels * 1.15f + 1e-7f;
            for (int i = b * n; i < b * n + n; i++)
            {
                Assert.True(MathF.Abs(x[i] - back[i]) <= bound, $"{t} weight {i}: {x[i]} came back as {back[i]} (bound {bound})");
                sumErr2 += (x[i] - back[i]) * (double)(x[i] - back[i]);
                sumX2 += x[i] * (double)x[i];
            }
        }
        double relRms = Math.Sqrt(sumErr2 / sumX2);
        output.WriteLine($"{t}: relative RMS error {relRms:F4}");
        // Measured (seed 5): Q8_0 0.0054, Q6_K 0.0195, Q5_0 0.042, Q5_1 0.036, Q5_K 0.035, Q4_0 0.088, Q4_1 0.075, Q4_K 0.071.
        double relBound = t switch { TensorDType.Q8_0 => 0.008, TensorDType.Q6_K => 0.025, TensorDType.Q5_0 or TensorDType.Q5_1 or TensorDType.Q5_K => 0.05, _ => 0.1 };
        Assert.True(relRms < relBound, $"{t}: relative RMS error {relRms:F4} ≥ {relBound}");
    }

    [Fact]
    public void Q4_0_quantiser_follows_the_reference_rounding()
    {
        // quantize_row_q4_0_ref: d = extreme / −8, q = min(15, trunc(x/d + 8.5)).
        var x = new float[32];
        x[0] = -8; x[1] = 4; x[2] = 8; x[3] = 0.49f; x[4] = 0.51f;
        var block = new byte[18];
        GgufQuantizers.Quantize(TensorDType.Q4_0, x, block);
        Assert.Equal((Half)1, BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block)));
        var back = new float[32];
        GgufQuants.Dequantize(TensorDType.Q4_0, block, back);
        Assert.Equal(new float[] { -8, 4, 7, 0, 1 }, back[..5]); // +8 is capped at code 15 (= 7)
    }

    [Fact]
    public void Row_shapes_must_be_whole_blocks_and_name_the_block()
    {
        Assert.False(TensorDTypes.TryByteLength(TensorDType.Q4_K, [2, 128], out _, out string problem));
        Assert.Contains("256", problem);
        Assert.Contains("Q4_K", problem);
        Assert.True(TensorDTypes.TryByteLength(TensorDType.Q6_K, [3, 512], out long bytes, out _));
        Assert.Equal(3 * 2 * 210, bytes);
        Assert.Throws<ArgumentException>(() => GgufQuants.Dequantize(TensorDType.Q5_K, new byte[175], new float[256]));
        Assert.Throws<NotSupportedException>(() => GgufQuantizers.Quantize(TensorDType.Q2_K, new float[256], new byte[84]));
    }
}

public class GgufQuantizerTests
{
    static readonly Dictionary<string, int> EightLayers = new() { ["attn_v"] = 8, ["ffn_down"] = 8 };

    static TensorDType Q4KM(string name, long[] shape, bool hasOutput = true) =>
        GgufQuantizer.Choose(GgufQuantMix.Q4_K_M, name, shape, TensorDType.F32, EightLayers, hasOutput);

    [Fact]
    public void Q4_K_M_gives_Q6_K_to_the_output_and_to_attn_v_and_ffn_down_of_llama_cpps_more_bits_layers()
    {
        Assert.Equal(TensorDType.Q6_K, Q4KM("output.weight", [512, 256]));
        Assert.Equal(TensorDType.Q4_K, Q4KM("token_embd.weight", [512, 256]));
        Assert.Equal(TensorDType.Q6_K, Q4KM("token_embd.weight", [512, 256], hasOutput: false)); // tied: the embedding is the output
        // use_more_bits(i, 8): i < 1, i ≥ 7, or (i − 1) % 3 == 2.
        int[] moreBits = [0, 3, 6, 7];
        for (int i = 0; i < 8; i++)
        {
            var expected = moreBits.Contains(i) ? TensorDType.Q6_K : TensorDType.Q4_K;
            Assert.Equal(expected, Q4KM($"blk.{i}.attn_v.weight", [256, 256]));
            Assert.Equal(expected, Q4KM($"blk.{i}.ffn_down.weight", [256, 512]));
            Assert.Equal(TensorDType.Q4_K, Q4KM($"blk.{i}.attn_q.weight", [256, 256]));
            Assert.Equal(TensorDType.F32, Q4KM($"blk.{i}.attn_norm.weight", [256]));
        }
    }

    [Fact]
    public void Rows_that_are_not_whole_super_blocks_fall_back_as_llama_cpp_does()
    {
        Assert.Equal(TensorDType.Q5_0, Q4KM("blk.1.attn_q.weight", [64, 64]));
        Assert.Equal(TensorDType.Q8_0, Q4KM("output.weight", [512, 64]));
        Assert.Equal(TensorDType.F16, Q4KM("blk.1.ffn_down.weight", [64, 172]));
        Assert.Equal(TensorDType.Q8_0, GgufQuantizer.Choose(GgufQuantMix.Q8_0, "output.weight", [512, 256], TensorDType.F32, EightLayers, true));
        Assert.Equal(TensorDType.Q4_0, GgufQuantizer.Choose(GgufQuantMix.Q4_0, "blk.0.attn_v.weight", [256, 256], TensorDType.F32, EightLayers, true));
        Assert.Throws<ArgumentException>(() => GgufQuantizer.ParseMix("q3_k_s"));
    }

    [Fact]
    public void Quantize_rewrites_a_file_with_the_mix_keeping_metadata_and_norms()
    {
        using var dir = new TempDirectory();
        string src = dir.File("f32.gguf"), dst = dir.File("q4km.gguf");
        var rng = new Random(2);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var weights = new Dictionary<string, (long[] Shape, float[] Data)>
        {
            ["token_embd.weight"] = ([8, 256], Rand(8 * 256)),
            ["blk.0.attn_norm.weight"] = ([256], Rand(256)),
            ["blk.0.attn_v.weight"] = ([256, 256], Rand(256 * 256)),
            ["blk.1.attn_v.weight"] = ([256, 256], Rand(256 * 256)),
        };
        GgufWriter.Write(src, [new("general.architecture", "llama"), new("general.file_type", 0u)],
            weights.Select(kv => TensorToWrite.FromBytes(kv.Key, TensorDType.F32, kv.Value.Shape, FormatAssert.F32Bytes(kv.Value.Data))).ToList());

        var plan = GgufQuantizer.Quantize(src, dst, GgufQuantMix.Q4_K_M);

        using var g = GgufFile.Open(dst);
        Assert.Equal("llama", g.GetString("general.architecture"));
        Assert.Equal(15u, g.Get<uint>("general.file_type"));
        // Tied embeddings → Q6_K; use_more_bits(i, 2) is true only for layer 1.
        Assert.Equal(TensorDType.Q6_K, g.Tensors["token_embd.weight"].DType);
        Assert.Equal(TensorDType.F32, g.Tensors["blk.0.attn_norm.weight"].DType);
        Assert.Equal(TensorDType.Q4_K, g.Tensors["blk.0.attn_v.weight"].DType);
        Assert.Equal(TensorDType.Q6_K, g.Tensors["blk.1.attn_v.weight"].DType);
        Assert.Equal(g.Tensors.Values.Select(t => (t.Name, t.DType)), plan.Select(p => (p.Name, p.To)));
        var read = FormatAssert.ReadAll(g);
        foreach (var (name, (shape, data)) in weights)
        {
            var back = new float[data.Length];
            TensorDTypes.ToFloat32(g.Tensors[name].DType, read[name], back);
            float worst = data.Zip(back, (a, b) => MathF.Abs(a - b)).Max();
            Assert.True(worst < (g.Tensors[name].DType == TensorDType.F32 ? 1e-9f : 0.07f), $"{name}: max error {worst}");
        }
    }
}
