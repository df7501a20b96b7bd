using Ares.Models.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>Optimizers over a model's trainable (requires_grad) parameters.</summary>
internal static class OptimizerFactory
{
    /// <summary>
    /// AdamW (Loshchilov &amp; Hutter 2019) with two groups: decoupled weight decay on weight matrices
    /// and embeddings, none on biases and norm weights. This is HF Trainer's rule (TRL inherits it):
    /// shrinking a norm gain or a bias toward zero is not regularisation but a change of the
    /// function's scale/offset. nanoGPT's "decay every ≥2-D tensor" gives the same split here,
    /// since biases and norm weights are our only 1-D parameters. Frozen parameters are left out.
    /// </summary>
    public static AdamWOptimizer AdamW(CausalLM model, double lr, double weightDecay = 0.0, (double, double)? betas = null, double eps = 1e-8)
    {
        var (beta1, beta2) = betas ?? (0.9, 0.999);
        var (decay, noDecay) = SplitForWeightDecay(model);
        if (decay.Count + noDecay.Count == 0) throw new InvalidOperationException("the model has no trainable parameters (all have requires_grad = false)");
        var groups = new List<AdamWOptimizer.Group>();
        if (decay.Count > 0) groups.Add(new(decay.Select(d => d.Param).ToList(), lr, beta1, beta2, eps, weightDecay));
        if (noDecay.Count > 0) groups.Add(new(noDecay.Select(d => d.Param).ToList(), lr, beta1, beta2, eps, 0.0));
        return new AdamWOptimizer(groups);
    }

    /// <summary>Trainable parameters split into (decayed, not decayed) by HF's rule: no decay for biases and norm weights.</summary>
    public static (List<(string Name, Parameter Param)> Decay, List<(string Name, Parameter Param)> NoDecay) SplitForWeightDecay(CausalLM model)
    {
        var normWeights = model.named_modules().Where(m => m.module is RmsNorm or Nn.LayerNorm).Select(m => $"{m.name}.weight").ToHashSet(StringComparer.Ordinal);
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad) continue;
            bool exempt = name.EndsWith(".bias", StringComparison.Ordinal) || normWeights.Contains(name);
            (exempt ? noDecay : decay).Add((name, p));
        }
        return (decay, noDecay);
    }
}
