namespace Ares.Models.Tests;

/// <summary>
/// Gemma 2 / Gemma 3 text forward in float64 on plain arrays, written from the published equations (Gemma Team
/// 2024 §2, 2025 §2; HF modeling_gemma2/gemma3 as the statement of the details), independent of Ares's modules:
///   x₀ = E[ids]·√d
///   per layer: h = x + N_post_attn(Attn(N_in(x))),  x' = h + N_post_ff(W_down(gelu_tanh(W_gate N_pre_ff(h)) ⊙ W_up N_pre_ff(h)))
///   N(v) = v / √(mean(v²) + ε) · (1 + w)
///   Attn: s_ij = cap_a(q_i·k_j / √query_pre_attn_scalar), j visible iff j ≤ i (and i − j &lt; window on sliding layers),
///         q, k rotated by RoPE (rotate-half pairs (i, i + hd/2)); Gemma 3 normalises q and k per head first
///   logits = cap_f(N_final(x_L) · Eᵀ), cap_c(z) = c·tanh(z/c)
/// </summary>
internal sealed record GemmaRefConfig(int Hidden, int Ff, int Layers, int Heads, int KvHeads, int HeadDim, double Eps,
    double QueryPreAttnScalar, double? AttnCap, double? FinalCap, int? Window, bool[] Sliding, double GlobalTheta, double GlobalLinear,
    double LocalTheta, bool QkNorm, bool Tied, int? Labels)
{
    public static GemmaRefConfig From(TransformerConfig c) => new(c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKvHeads,
        c.HeadDim, c.NormEps, c.QueryPreAttnScalar ?? c.HeadDim, c.AttnLogitSoftcap, c.FinalLogitSoftcap, c.SlidingWindow,
        c.SlidingLayers?.ToArray() ?? new bool[c.NumLayers], c.RopeTheta, c.RopeLinearFactor, c.RopeLocalTheta ?? c.RopeTheta,
        c.Architecture == Architecture.Gemma3, c.TieWordEmbeddings, c.NumLabels);
}

internal static class GemmaReference
{
    /// <summary>Logits (T, V), or scores (T, labels) for a classifier, of one unpadded sequence.</summary>
    public static double[][] Forward(GemmaRefConfig c, IReadOnlyDictionary<string, double[]> w, int[] ids)
    {
        int T = ids.Length, d = c.Hidden, hd = c.HeadDim;
        var embed = w["model.embed_tokens.weight"];
        var x = new double[T][];
        for (int t = 0; t < T; t++)
        {
            x[t] = new double[d];
            for (int i = 0; i < d; i++) x[t][i] = embed[ids[t] * d + i] * Math.Sqrt(d);
        }
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            bool sliding = c.Sliding[l];
            double theta = sliding ? c.LocalTheta : c.GlobalTheta, linear = sliding ? 1 : c.GlobalLinear;
            var n = x.Select(v => Norm(v, w[p + "input_layernorm.weight"], c.Eps)).ToArray();
            var q = n.Select(v => MatVec(w[p + "self_attn.q_proj.weight"], v, c.Heads * hd)).ToArray();
            var k = n.Select(v => MatVec(w[p + "self_attn.k_proj.weight"], v, c.KvHeads * hd)).ToArray();
            var vv = n.Select(v => MatVec(w[p + "self_attn.v_proj.weight"], v, c.KvHeads * hd)).ToArray();
            for (int t = 0; t < T; t++)
            {
                for (int h = 0; h < c.Heads; h++)
                {
                    if (c.QkNorm) NormSlice(q[t], h * hd, hd, w[p + "self_attn.q_norm.weight"], c.Eps);
                    Rope(q[t], h * hd, hd, t, theta, linear);
                }
                for (int h = 0; h < c.KvHeads; h++)
                {
                    if (c.QkNorm) NormSlice(k[t], h * hd, hd, w[p + "self_attn.k_norm.weight"], c.Eps);
                    Rope(k[t], h * hd, hd, t, theta, linear);
                }
            }
            var attnOut = new double[T][];
            for (int i = 0; i < T; i++)
            {
                var o = new double[c.Heads * hd];
                for (int h = 0; h < c.Heads; h++)
                {
                    int kvh = h / (c.Heads / c.KvHeads);
                    var s = new double[i + 1];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j <= i; j++)
                    {
                        if (sliding && c.Window is int win && i - j >= win) { s[j] = double.NegativeInfinity; continue; }
                        double dot = 0;
                        for (int e = 0; e < hd; e++) dot += q[i][h * hd + e] * k[j][kvh * hd + e];
                        dot /= Math.Sqrt(c.QueryPreAttnScalar);
                        if (c.AttnCap is double cap) dot = cap * Math.Tanh(dot / cap);
                        s[j] = dot;
                        max = Math.Max(max, dot);
                    }
                    double z = 0;
                    for (int j = 0; j <= i; j++) z += s[j] = Math.Exp(s[j] - max);
                    for (int j = 0; j <= i; j++)
                        for (int e = 0; e < hd; e++) o[h * hd + e] += s[j] / z * vv[j][kvh * hd + e];
                }
                attnOut[i] = MatVec(w[p + "self_attn.o_proj.weight"], o, d);
            }
            for (int t = 0; t < T; t++)
            {
                var a = Norm(attnOut[t], w[p + "post_attention_layernorm.weight"], c.Eps);
                var h = x[t].Select((xi, i) => xi + a[i]).ToArray();
                var m = Norm(h, w[p + "pre_feedforward_layernorm.weight"], c.Eps);
                var g = MatVec(w[p + "mlp.gate_proj.weight"], m, c.Ff);
                var u = MatVec(w[p + "mlp.up_proj.weight"], m, c.Ff);
                var ff = MatVec(w[p + "mlp.down_proj.weight"], g.Select((gi, i) => GeluTanh(gi) * u[i]).ToArray(), d);
                var f = Norm(ff, w[p + "post_feedforward_layernorm.weight"], c.Eps);
                x[t] = h.Select((hi, i) => hi + f[i]).ToArray();
            }
        }
        var head = c.Labels is int labels ? (w["score.weight"], labels) : (c.Tied ? embed : w["lm_head.weight"], embed.Length / d);
        return x.Select(v =>
        {
            var z = MatVec(head.Item1, Norm(v, w["model.norm.weight"], c.Eps), head.Item2);
            if (c.Labels is null && c.FinalCap is double cap) z = z.Select(zi => cap * Math.Tanh(zi / cap)).ToArray();
            return z;
        }).ToArray();
    }

    static double[] MatVec(double[] W, double[] v, int rows)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double acc = 0;
            for (int i = 0; i < v.Length; i++) acc += W[r * v.Length + i] * v[i];
            y[r] = acc;
        }
        return y;
    }

    static double[] Norm(double[] v, double[] w, double eps)
    {
        double ms = v.Sum(a => a * a) / v.Length, inv = 1 / Math.Sqrt(ms + eps);
        return v.Select((a, i) => a * inv * (1 + w[i])).ToArray();
    }

    static void NormSlice(double[] v, int start, int len, double[] w, double eps)
    {
        var part = Norm(v[start..(start + len)], w, eps);
        Array.Copy(part, 0, v, start, len);
    }

    static void Rope(double[] v, int start, int hd, int pos, double theta, double linear)
    {
        int half = hd / 2;
        for (int i = 0; i < half; i++)
        {
            double angle = pos / linear / Math.Pow(theta, 2.0 * i / hd);
            double a = v[start + i], b = v[start + i + half];
            v[start + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
            v[start + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
        }
    }

    static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}
