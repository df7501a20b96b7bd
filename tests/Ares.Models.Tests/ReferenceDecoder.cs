namespace Ares.Models.Tests;

/// <summary>
/// Hyperparameters of <see cref="ReferenceDecoder"/>, spelled as the published modelling code does
/// (HF modeling_llama / modeling_mistral / modeling_qwen3 / modeling_phi3), independent of Ares's config.
/// </summary>
internal sealed record ReferenceSpec
{
    public required string Family { get; init; }          // "mistral", "qwen3" or "phi3"
    public int Vocab { get; init; } = 61;
    public int Hidden { get; init; } = 32;
    public int Ff { get; init; } = 40;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;
    public int HeadDim { get; init; } = 8;
    public int MaxPositions { get; init; } = 64;
    public double Eps { get; init; } = 1e-6;
    public double Theta { get; init; } = 10000;
    public bool Tied { get; init; }
    public int? Labels { get; init; }
    /// <summary>Sliding window (null = full attention) and the first layer it applies to.</summary>
    public int? Window { get; init; }
    public int WindowFromLayer { get; init; }
    /// <summary>Phi-3: fraction of each head RoPE rotates, LongRoPE factors and the pretrained context.</summary>
    public double PartialRotary { get; init; } = 1;
    public double[]? ShortFactor { get; init; }
    public double[]? LongFactor { get; init; }
    public int OriginalMaxPositions { get; init; }

    public int RotaryDim => (int)(HeadDim * PartialRotary);
}

/// <summary>
/// A float64 decoder forward written from the published equations with plain loops, sharing no code
/// with Ares's modules: pre-RMSNorm blocks, grouped-query attention with rotate-half RoPE, causal and
/// sliding-window masking (key j visible to query i iff j ≤ i and i − j &lt; window), SwiGLU MLP.
/// Qwen3 adds RMSNorm over head_dim on q and k before RoPE; Phi-3 splits fused qkv_proj = [q; k; v]
/// and gate_up_proj = [gate; up], rotates the first partial_rotary_factor of each head, and with
/// LongRoPE divides frequencies by short/long factors (long once the sequence passes the original
/// context) and scales cos/sin by √(1 + ln(max/original) / ln(original)).
/// </summary>
internal sealed class ReferenceDecoder(ReferenceSpec s, IReadOnlyDictionary<string, double[]> w)
{
    /// <summary>Final-normed hidden states, one row per token of a single unpadded sequence at positions 0…T−1.</summary>
    public double[][] Hidden(IReadOnlyList<int> ids)
    {
        int t = ids.Count;
        var x = ids.Select(id => w["model.embed_tokens.weight"].Skip(id * s.Hidden).Take(s.Hidden).ToArray()).ToArray();
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            var attnIn = x.Select(r => RmsNorm(r, w[p + "input_layernorm.weight"])).ToArray();
            var attn = Attention(attnIn, p, s.Window is int win && l >= s.WindowFromLayer ? win : null);
            for (int i = 0; i < t; i++) x[i] = Add(x[i], attn[i]);
            for (int i = 0; i < t; i++) x[i] = Add(x[i], Mlp(RmsNorm(x[i], w[p + "post_attention_layernorm.weight"]), p));
        }
        return x.Select(r => RmsNorm(r, w["model.norm.weight"])).ToArray();
    }

    /// <summary>Next-token logits (T, V) of a single sequence.</summary>
    public double[][] Logits(IReadOnlyList<int> ids) =>
        Hidden(ids).Select(h => MatVec(s.Tied ? w["model.embed_tokens.weight"] : w["lm_head.weight"], h, s.Vocab)).ToArray();

    /// <summary>Score-head outputs at the last token.</summary>
    public double[] Score(IReadOnlyList<int> ids) => MatVec(w["score.weight"], Hidden(ids)[^1], s.Labels!.Value);

    /// <summary>Greedy continuation: argmax of the full-sequence forward at each step (no cache).</summary>
    public int[] Greedy(IReadOnlyList<int> prompt, int steps)
    {
        var seq = prompt.ToList();
        for (int k = 0; k < steps; k++)
        {
            var last = Logits(seq)[^1];
            seq.Add(Array.IndexOf(last, last.Max()));
        }
        return seq.Skip(prompt.Count).ToArray();
    }

    double[][] Attention(double[][] x, string p, int? window)
    {
        int t = x.Length, hd = s.HeadDim, qw = s.Heads * hd, kw = s.KvHeads * hd;
        double[][] q, k, v;
        if (s.Family == "phi3")
        {
            var qkv = x.Select(r => MatVec(w[p + "self_attn.qkv_proj.weight"], r, qw + 2 * kw)).ToArray();
            q = qkv.Select(r => r[..qw]).ToArray();
            k = qkv.Select(r => r[qw..(qw + kw)]).ToArray();
            v = qkv.Select(r => r[(qw + kw)..]).ToArray();
        }
        else
        {
            q = x.Select(r => MatVec(w[p + "self_attn.q_proj.weight"], r, qw)).ToArray();
            k = x.Select(r => MatVec(w[p + "self_attn.k_proj.weight"], r, kw)).ToArray();
            v = x.Select(r => MatVec(w[p + "self_attn.v_proj.weight"], r, kw)).ToArray();
        }
        if (s.Family == "qwen3")
        {
            q = q.Select(r => PerHead(r, s.Heads, h => RmsNorm(h, w[p + "self_attn.q_norm.weight"]))).ToArray();
            k = k.Select(r => PerHead(r, s.KvHeads, h => RmsNorm(h, w[p + "self_attn.k_norm.weight"]))).ToArray();
        }
        var (invFreq, scale) = RopeFrequencies(t);
        for (int i = 0; i < t; i++)
        {
            q[i] = PerHead(q[i], s.Heads, h => Rope(h, i, invFreq, scale));
            k[i] = PerHead(k[i], s.KvHeads, h => Rope(h, i, invFreq, scale));
        }
        var o = new double[t][];
        int group = s.Heads / s.KvHeads;
        for (int i = 0; i < t; i++)
        {
            o[i] = new double[qw];
            for (int h = 0; h < s.Heads; h++)
            {
                int kvh = h / group;
                var scores = new List<(int J, double S)>();
                for (int j = 0; j <= i; j++)
                {
                    if (window is int win && i - j >= win) continue;
                    double dot = 0;
                    for (int d = 0; d < hd; d++) dot += q[i][h * hd + d] * k[j][kvh * hd + d];
                    scores.Add((j, dot / Math.Sqrt(hd)));
                }
                double max = scores.Max(z => z.S), sum = scores.Sum(z => Math.Exp(z.S - max));
                foreach (var (j, sc) in scores)
                {
                    double a = Math.Exp(sc - max) / sum;
                    for (int d = 0; d < hd; d++) o[i][h * hd + d] += a * v[j][kvh * hd + d];
                }
            }
        }
        return o.Select(r => MatVec(w[p + "self_attn.o_proj.weight"], r, s.Hidden)).ToArray();
    }

    (double[] InvFreq, double Scale) RopeFrequencies(int seqLen)
    {
        int rd = s.RotaryDim;
        double[]? factors = s.ShortFactor is null ? null : seqLen > s.OriginalMaxPositions ? s.LongFactor : s.ShortFactor;
        var inv = Enumerable.Range(0, rd / 2).Select(i => 1.0 / ((factors?[i] ?? 1) * Math.Pow(s.Theta, 2.0 * i / rd))).ToArray();
        double ratio = s.ShortFactor is null ? 1 : (double)s.MaxPositions / s.OriginalMaxPositions;
        double scale = ratio <= 1 ? 1 : Math.Sqrt(1 + Math.Log(ratio) / Math.Log(s.OriginalMaxPositions));
        return (inv, scale);
    }

    /// <summary>Rotate-half RoPE on the first rotary_dim dims: (x_i, x_{i+rd/2}) rotated by pos·invFreq_i.</summary>
    double[] Rope(double[] h, int pos, double[] invFreq, double scale)
    {
        var r = (double[])h.Clone();
        int half = s.RotaryDim / 2;
        for (int i = 0; i < half; i++)
        {
            double c = Math.Cos(pos * invFreq[i]) * scale, sn = Math.Sin(pos * invFreq[i]) * scale;
            r[i] = h[i] * c - h[i + half] * sn;
            r[i + half] = h[i + half] * c + h[i] * sn;
        }
        return r;
    }

    double[] Mlp(double[] x, string p)
    {
        double[] gate, up;
        if (s.Family == "phi3")
        {
            var gu = MatVec(w[p + "mlp.gate_up_proj.weight"], x, 2 * s.Ff);
            gate = gu[..s.Ff]; up = gu[s.Ff..];
        }
        else
        {
            gate = MatVec(w[p + "mlp.gate_proj.weight"], x, s.Ff);
            up = MatVec(w[p + "mlp.up_proj.weight"], x, s.Ff);
        }
        var h = gate.Zip(up, (g, u) => g / (1 + Math.Exp(-g)) * u).ToArray(); // SiLU(gate) · up
        return MatVec(w[p + "mlp.down_proj.weight"], h, s.Hidden);
    }

    double[] PerHead(double[] r, int heads, Func<double[], double[]> f) =>
        Enumerable.Range(0, heads).SelectMany(h => f(r[(h * s.HeadDim)..((h + 1) * s.HeadDim)])).ToArray();

    double[] RmsNorm(double[] x, double[] g)
    {
        double rms = Math.Sqrt(x.Sum(z => z * z) / x.Length + s.Eps);
        return x.Select((z, i) => z / rms * g[i]).ToArray();
    }

    static double[] Add(double[] a, double[] b) => a.Zip(b, (p, q) => p + q).ToArray();

    /// <summary>W (rows, in) row-major times x (in).</summary>
    static double[] MatVec(double[] m, double[] x, int rows)
    {
        var y = new double[rows];
        int n = x.Length;
        for (int r = 0; r < rows; r++)
        {
            double acc = 0;
            for (int i = 0; i < n; i++) acc += m[r * n + i] * x[i];
            y[r] = acc;
        }
        return y;
    }
}
