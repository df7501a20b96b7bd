using Ares.Core.Formats;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

/// <summary>
/// Quantised GGUF files made by the tests (GgufQuantizer over an F32 file) load, generate, and stay
/// close to the F32 model they came from.
/// </summary>
public class GgufQuantizedModelTests(ITestOutputHelper output) : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    static readonly long[] Probe = [1, 403, 407, 261, 378, 300, 42, 77, 500, 13, 260, 261];
    static readonly GenerationOptions Greedy = new() { MaxNewTokens = 40, Temperature = 0, StopIds = new HashSet<int>() };

    /// <summary>
    /// stories260K padded from 64 to 256 wide so its matrices' rows are whole K-quant super-blocks, with
    /// the same function: inputs of every matrix get zero columns, outputs into the residual stream
    /// zero rows, RMSNorm weights are halved and eps quartered (the mean over 256 of a vector with
    /// 64 non-zeros is a quarter of the mean over 64, so x/√(mean/4 + eps/4)·w/2 = x/√(mean + eps)·w).
    /// attn_output and ffn_down keep inner dimensions of 64 and 172 and so take llama.cpp's fallbacks.
    /// </summary>
    string PaddedStories()
    {
        const int wide = 256, narrow = 64;
        using var g = GgufFile.Open(Fixtures.Stories260KGguf);
        var replaced = new Dictionary<string, object>
        {
            ["llama.embedding_length"] = (uint)wide,
            ["llama.attention.layer_norm_rms_epsilon"] = g.Require<float>("llama.attention.layer_norm_rms_epsilon") / 4,
        };
        var metadata = g.Metadata.Select(kv => new KeyValuePair<string, object>(kv.Key, replaced.GetValueOrDefault(kv.Key, kv.Value))).ToList();
        metadata.Add(new("llama.attention.key_length", 8u)); // 8 heads of 8 no longer fill the width
        metadata.Add(new("llama.attention.value_length", 8u));

        var tensors = new List<TensorToWrite>();
        foreach (var e in g.Tensors.Values.OrderBy(t => t.Offset))
        {
            var raw = new byte[e.ByteLength];
            g.ReadBytes(e, raw);
            var x = new float[e.ElementCount];
            TensorDTypes.ToFloat32(e.DType, raw, x);
            long rows = e.Shape.Length == 2 ? e.Shape[0] : 1, cols = e.Shape[^1];
            bool norm = e.Shape.Length == 1;
            bool padRows = e.Name.Contains("attn_output") || e.Name.Contains("ffn_down");
            long outRows = padRows ? wide : rows, outCols = !padRows && cols == narrow ? wide : cols;
            var y = new float[outRows * outCols];
            for (long r = 0; r < rows; r++)
                for (long c = 0; c < cols; c++)
                    y[r * outCols + c] = norm ? x[c] / 2 : x[r * cols + c];
            long[] shape = norm ? [outCols] : [outRows, outCols];
            tensors.Add(TensorToWrite.FromBytes(e.Name, TensorDType.F32, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(y.AsSpan()).ToArray()));
        }
        var path = _dir.File("stories-wide-f32.gguf");
        GgufWriter.Write(path, metadata, tensors);
        return path;
    }

    /// <summary>Max |Δlogit| over the probe, the logits' standard deviation, and how many greedy tokens from BOS agree before the first difference.</summary>
    (double MaxDiff, double LogitStd, int AgreeingPrefix) Compare(string f32, string quantised)
    {
        using var a = ModelLoader.Load(f32);
        using var b = ModelLoader.Load(quantised);
        using var la = TinyModels.Logits(a.Model, Probe);
        using var lb = TinyModels.Logits(b.Model, Probe);
        using var delta = (la - lb).abs();
        using var diff = delta.max();
        using var mean = delta.mean();
        using var std = la.std();
        double maxDiff = diff.item<float>(), logitStd = std.item<float>();
        var ga = new TextGenerator(a.Model, a.Tokenizer).Generate([[1]], Greedy)[0].TokenIds;
        var gb = new TextGenerator(b.Model, b.Tokenizer).Generate([[1]], Greedy)[0].TokenIds;
        int agree = ga.Zip(gb).TakeWhile(p => p.First == p.Second).Count();
        output.WriteLine($"{Path.GetFileName(quantised)}: max |Δlogit| {maxDiff:F4}, mean {mean.item<float>():F4} (logit std {logitStd:F3}), greedy agrees on {agree}/{ga.Length} tokens");
        return (maxDiff, logitStd, agree);
    }

    [Fact]
    public void Padding_stories260K_to_256_wide_keeps_its_logits()
    {
        var (maxDiff, _, agree) = Compare(Fixtures.Stories260KGguf, PaddedStories());
        Assert.True(maxDiff < 1e-3, $"max |Δlogit| {maxDiff}");
        Assert.Equal(Greedy.MaxNewTokens, agree);
    }

    [Theory]
    [InlineData("q4_k_m")]
    [InlineData("q5_k_m")]
    public void A_K_quant_mix_of_real_weights_loads_generates_and_stays_close_to_F32(string mix)
    {
        string wide = PaddedStories(), q = _dir.File($"stories-wide-{mix}.gguf");
        GgufQuantizer.Quantize(wide, q, GgufQuantizer.ParseMix(mix));

        var info = ModelInspector.Inspect(q);
        var main = mix == "q4_k_m" ? TensorDType.Q4_K : TensorDType.Q5_K;
        // llama.cpp's recipe for 5 layers: output and attn_v of layers 2 and 4 (use_more_bits) Q6_K; token_embd and
        // q/k/gate/up of every layer, attn_v of layers 0, 1, 3 the main type; attn_output (rows of 64) falls back to
        // Q5_0/Q5_1, ffn_down (rows of 172) to F16; 11 norms F32.
        var expected = new Dictionary<TensorDType, int>
        {
            [main] = 1 + 5 * 4 + 3,
            [TensorDType.Q6_K] = 3,
            [main == TensorDType.Q4_K ? TensorDType.Q5_0 : TensorDType.Q5_1] = 5,
            [TensorDType.F16] = 5,
            [TensorDType.F32] = 11,
        };
        Assert.Equal(expected.OrderBy(kv => kv.Key), info.DTypes.OrderBy(kv => kv.Key));

        var (maxDiff, std, agree) = Compare(Fixtures.Stories260KGguf, q);
        // Measured: Q4_K_M max |Δlogit| 2.30 (0.31 std), Q5_K_M 1.66 (0.22 std); both agree on the first 20 greedy
        // tokens. A 64-wide model is far more sensitive to 4-bit weights than a real-sized one.
        Assert.True(maxDiff < (mix == "q4_k_m" ? 0.45 : 0.3) * std, $"max |Δlogit| {maxDiff} vs logit std {std}");
        Assert.True(agree >= 15, $"greedy text agrees on only {agree} tokens");
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    public void Stories260K_quantised_by_each_recipe_tells_the_same_story(string mix)
    {
        // stories260K's rows are 64 and 172 wide: ffn_down falls back to F16, as llama.cpp's would.
        string q = _dir.File($"stories-{mix}.gguf");
        var plan = GgufQuantizer.Quantize(Fixtures.Stories260KGguf, q, GgufQuantizer.ParseMix(mix));
        Assert.All(plan.Where(p => p.Name.Contains("ffn_down")), p => Assert.Equal(TensorDType.F16, p.To));
        var (maxDiff, std, agree) = Compare(Fixtures.Stories260KGguf, q);
        // Measured: Q8_0 max |Δlogit| 0.21 and all 40 greedy tokens; Q4_0 4.40 and 27.
        Assert.True(maxDiff < (mix == "q8_0" ? 0.05 : 0.75) * std, $"max |Δlogit| {maxDiff} vs logit std {std}");
        Assert.True(agree >= (mix == "q8_0" ? 40 : 20), $"greedy text agrees on only {agree} tokens");
    }
}
