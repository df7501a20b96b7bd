using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// Key/value cache for incremental decoding: one preallocated (B, n_kv, capacity, hd) buffer pair
/// per layer, filled left to right. Owns its tensors; dispose it when generation ends.
/// </summary>
internal sealed class KvCache : IDisposable
{
    readonly Tensor[] _k, _v;
    public int Length { get; private set; }
    public int Capacity { get; }
    public int Batch { get; private set; }

    public KvCache(int layers, int batch, int kvHeads, int headDim, int capacity, ScalarType dtype, Device? device = null)
    {
        Batch = batch; Capacity = capacity;
        _k = new Tensor[layers]; _v = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            _k[i] = empty([batch, kvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope(); // (B, n_kv, C, hd)
            _v[i] = empty([batch, kvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope();
        }
    }

    /// <summary>Keeps only batch rows <paramref name="rows"/> (int64, in order): generation drops rows that finished.</summary>
    public void Keep(Tensor rows)
    {
        for (int i = 0; i < _k.Length; i++)
        {
            var (k, v) = (_k[i].index_select(0, rows).DetachFromDisposeScope(), _v[i].index_select(0, rows).DetachFromDisposeScope());
            _k[i].Dispose(); _v[i].Dispose();
            (_k[i], _v[i]) = (k, v);
        }
        Batch = (int)rows.shape[0];
    }

    /// <summary>Writes this step's k/v (B, n_kv, T, hd) for <paramref name="layer"/> and returns views of everything cached so far.</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        int t = (int)k.shape[2];
        if (Length + t > Capacity) throw new InvalidOperationException($"KV cache full: {Length} + {t} > capacity {Capacity}");
        using (no_grad())
        {
            _k[layer].narrow(2, Length, t).copy_(k);
            _v[layer].narrow(2, Length, t).copy_(v);
        }
        return (_k[layer].narrow(2, 0, Length + t), _v[layer].narrow(2, 0, Length + t)); // (B, n_kv, S, hd)
    }

    /// <summary>Call once per forward, after every layer has appended.</summary>
    public void Advance(int t) => Length += t;

    public void Dispose()
    {
        foreach (var t in _k) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}

/// <summary>Rotary position embedding (Su et al. 2021), HF "rotate half" layout, with Llama 3 and linear scaling.</summary>
internal sealed class Rotary : IDisposable
{
    readonly Tensor _invFreq;                      // (hd/2)

    public Rotary(TransformerConfig c, float[]? freqFactors = null)
    {
        int half = c.HeadDim / 2;
        var inv = new double[half];
        for (int i = 0; i < half; i++)
        {
            inv[i] = 1.0 / Math.Pow(c.RopeTheta, 2.0 * i / c.HeadDim) / c.RopeLinearFactor;
            if (c.RopeLlama3 is { } r) inv[i] = Llama3Scale(inv[i], r);
            if (freqFactors != null) inv[i] /= freqFactors[i]; // GGUF rope_freqs.weight (llama.cpp's form of the same scaling)
        }
        _invFreq = tensor(inv.Select(x => (float)x).ToArray());
    }

    /// <summary>Llama 3.1's rescaling: long wavelengths slowed by `factor`, short kept, smooth in between.</summary>
    internal static double Llama3Scale(double invFreq, Llama3RopeScaling r)
    {
        double lowWavelen = r.OriginalMaxPositions / r.LowFreqFactor, highWavelen = r.OriginalMaxPositions / r.HighFreqFactor;
        double wavelen = 2 * Math.PI / invFreq;
        if (wavelen < highWavelen) return invFreq;
        if (wavelen > lowWavelen) return invFreq / r.Factor;
        double smooth = (r.OriginalMaxPositions / wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor);
        return (1 - smooth) * invFreq / r.Factor + smooth * invFreq;
    }

    /// <summary>cos and sin for the given positions (B, T), each (B, 1, T, hd/2), in fp32.</summary>
    public (Tensor Cos, Tensor Sin) Angles(Tensor positions)
    {
        using var scope = NewDisposeScope();
        var angles = positions.to_type(ScalarType.Float32).unsqueeze(-1) * _invFreq; // (B, T, hd/2)
        angles = angles.unsqueeze(1);                                               // (B, 1, T, hd/2)
        return (angles.cos().MoveToOuterDisposeScope(), angles.sin().MoveToOuterDisposeScope());
    }

    /// <summary>
    /// cos and sign-folded sin for <see cref="RotateHeads"/>, each (B, T, 1, hd) in fp32: cos = [c, c],
    /// sin = [−s, s], so a rotation is x·cos + swap_halves(x)·sin. Computed once per forward, shared by all layers.
    /// </summary>
    public (Tensor Cos, Tensor Sin) HeadAngles(Tensor positions)
    {
        using var scope = NewDisposeScope();
        var angles = positions.to_type(ScalarType.Float32).unsqueeze(-1) * _invFreq; // (B, T, hd/2)
        var cos = angles.cos();
        var sin = angles.sin();
        var c = cat([cos, cos], -1).unsqueeze(2);                                   // (B, T, 1, hd)
        var s = cat([sin.neg(), sin], -1).unsqueeze(2);
        return (c.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Rotates heads laid out (B, T, H, hd), as they come out of a projection (no transpose first),
    /// with <see cref="HeadAngles"/>; one pass serves Q and K side by side. Same math as <see cref="Apply"/>.
    /// </summary>
    public static Tensor RotateHeads(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long hd = x.shape[^1];
        var xf = x.dtype == ScalarType.Float32 ? x : x.to_type(ScalarType.Float32);
        var swapped = xf.view([.. xf.shape[..^1], 2, hd / 2]).flip(-2).view(xf.shape); // (B, T, H, hd): [x2, x1]
        var rotated = xf.mul(cos).PlusInPlace(swapped.mul_(sin));                    // (B, T, H, hd)
        return (rotated.dtype == x.dtype ? rotated : rotated.to_type(x.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Rotates x (B, H, T, hd): pairs (x[i], x[i + hd/2]).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var xf = x.dtype == ScalarType.Float32 ? x : x.to_type(ScalarType.Float32);
        var x1 = xf.narrow(-1, 0, half);                                            // (B, H, T, hd/2)
        var x2 = xf.narrow(-1, half, half);
        var rotated = cat([x1 * cos - x2 * sin, (x1 * sin).Plus(x2 * cos)], -1);    // (B, H, T, hd)
        return (rotated.dtype == x.dtype ? rotated : rotated.to_type(x.dtype)).MoveToOuterDisposeScope();
    }

    public void Dispose() => _invFreq.Dispose();
}

internal static class AttentionMath
{
    /// <summary>
    /// Boolean attention mask (B, 1, T, S), true = may attend: key s is valid (<paramref name="keyValid"/>
    /// (B, S)) and not in the future of query t, whose absolute index is S − T + t. A query may always
    /// attend to itself, so that padding rows never go all-masked (that would produce NaN which the
    /// next layer's values would spread). With a <paramref name="window"/> w, key s is also visible only if
    /// q − s &lt; w (the query and the w − 1 keys before it), as transformers' sliding_window_overlay
    /// (kv_idx &gt; q_idx − w) and llama.cpp's SWA mask.
    /// </summary>
    public static Tensor Mask(Tensor keyValid, int queryLength, int? window = null)
    {
        using var scope = NewDisposeScope();
        long s = keyValid.shape[1];
        var q = ScalarOps.Arange(s - queryLength, s, device: keyValid.device).unsqueeze(1); // (T, 1)
        var k = ScalarOps.Arange(0, s, device: keyValid.device).unsqueeze(0);             // (1, S)
        var causal = k <= q;                                                       // (T, S)
        if (window is int w) causal &= k > q.Minus(w);                             // (T, S) i − j < w
        var self = k == q;
        var allowed = causal.unsqueeze(0) & keyValid.to_type(ScalarType.Bool).unsqueeze(1); // (B, T, S)
        return (allowed | self.unsqueeze(0)).unsqueeze(1).MoveToOuterDisposeScope(); // (B, 1, T, S)
    }

    /// <summary>Scaled dot-product attention with grouped-query heads: q (B, H, T, hd), k/v (B, H_kv, S, hd).</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long b = k.shape[0], hkv = k.shape[1], s = k.shape[2], hd = k.shape[3], rep = q.shape[1] / hkv;
        if (rep > 1)
        {
            k = k.unsqueeze(2).expand(b, hkv, rep, s, hd).reshape(b, hkv * rep, s, hd); // (B, H, S, hd)
            v = v.unsqueeze(2).expand(b, hkv, rep, s, hd).reshape(b, hkv * rep, s, hd);
        }
        var o = mask is null
            ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: q.shape[2] > 1)
            : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask); // (B, H, T, hd)
        return o.MoveToOuterDisposeScope();
    }
}
