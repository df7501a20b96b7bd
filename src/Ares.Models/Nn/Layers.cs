using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Nn;

/// <summary>
/// y = x Wᵀ + b, with an optional LoRA adapter (Hu et al. 2021, eq. 3): y += (α/r) · B A dropout(x).
/// Parameter names follow HF and PEFT (`weight`, `bias`, `lora_A.weight`, `lora_B.weight`), so
/// state-dict keys are checkpoint keys with no mapping.
/// </summary>
internal sealed class Linear : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;               // (out, in)
    public readonly Parameter? bias;                // (out)
    LoraFactor? lora_A;                             // (r, in)
    LoraFactor? lora_B;                             // (out, r)
    double _loraScaling, _loraDropout;

    public int InFeatures { get; }
    public int OutFeatures { get; }

    /// <summary>When false the adapter is bypassed (the base model, e.g. the GFlowNet prior p_ref).</summary>
    public bool AdapterEnabled { get; set; } = true;
    public bool HasAdapter => lora_A is not null;
    public int LoraRank => (int)(lora_A?.weight.shape[0] ?? 0);
    public double LoraScaling => _loraScaling;
    internal Parameter? LoraA => lora_A?.weight;
    internal Parameter? LoraB => lora_B?.weight;

    public Linear(int inFeatures, int outFeatures, bool hasBias, ScalarType dtype = ScalarType.Float32)
        : this(inFeatures, outFeatures, hasBias ? zeros(outFeatures, dtype) : null, empty(outFeatures, inFeatures, dtype)) { }

    /// <summary>A layer whose weight (and bias) are the given tensors, e.g. views of a <see cref="FusedProjection"/> buffer.</summary>
    internal Linear(int inFeatures, int outFeatures, Tensor? biasStorage, Tensor weightStorage) : base(nameof(Linear))
    {
        InFeatures = inFeatures; OutFeatures = outFeatures;
        weight = new Parameter(weightStorage);
        if (biasStorage is not null) bias = new Parameter(biasStorage.zero_());
        using (no_grad())
        {
            double bound = 1.0 / Math.Sqrt(inFeatures); // nn.Linear's default init
            weight.uniform_(-bound, bound);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var y = InferenceGemm.Linear(x, weight, bias); // (..., out)
        if (lora_A is null || !AdapterEnabled) return y;
        using var scope = NewDisposeScope();
        // The adapter may be fp32 over a bf16/fp16 base (see AddAdapter): run it in its own dtype, as PEFT does.
        var h = x.to_type(lora_A.weight.dtype);
        if (_loraDropout > 0 && training) h = nn.functional.dropout(h, _loraDropout, training);
        var delta = nn.functional.linear(nn.functional.linear(h, lora_A.weight), lora_B!.weight); // (..., out)
        return y.AddScaledInPlace(delta.to_type(y.dtype), _loraScaling).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Adds a LoRA adapter: A ~ Kaiming-uniform, B = 0 (so the model is unchanged at start), base frozen.
    /// Over a bf16/fp16 base the factors are fp32 (PEFT's autocast_adapter_dtype): AdamW steps of
    /// about lr (e.g. 2e-4) are below bf16's resolution (~0.4% of the weight) and would round away.
    /// </summary>
    public void AddAdapter(int rank, double alpha, double dropout, Generator? generator = null)
    {
        if (lora_A is not null) throw new InvalidOperationException("this layer already has a LoRA adapter");
        var dtype = weight.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? ScalarType.Float32 : weight.dtype;
        var a = new LoraFactor(rank, InFeatures, dtype);
        var b = new LoraFactor(OutFeatures, rank, dtype);
        using (no_grad())
        {
            double bound = Math.Sqrt(6.0 / ((1 + 5.0) * InFeatures)); // kaiming_uniform_(a=√5), as PEFT
            a.weight.uniform_(-bound, bound, generator: generator);
            b.weight.zero_();
        }
        lora_A = a; lora_B = b;
        register_module("lora_A", a);
        register_module("lora_B", b);
        _loraScaling = alpha / rank;
        _loraDropout = dropout;
        weight.requires_grad = false;
        bias?.requires_grad_(false);
    }

    /// <summary>Folds the adapter into the base weight (W += s·B·A) and removes it.</summary>
    public void MergeAdapter()
    {
        if (lora_A is null) return;
        using (no_grad())
        using (NewDisposeScope())
        {
            var delta = lora_B!.weight.matmul(lora_A.weight).Times(_loraScaling);         // (out, r)@(r, in)
            weight.PlusInPlace(delta.to_type(weight.dtype));
        }
        RemoveAdapter();
    }

    public void RemoveAdapter()
    {
        if (lora_A is null) return;
        // TorchSharp keeps registered children in a dictionary keyed by name.
        _internal_submodules.Remove("lora_A");
        _internal_submodules.Remove("lora_B");
        lora_A.Dispose(); lora_B!.Dispose();
        lora_A = lora_B = null;
        weight.requires_grad = true;
        bias?.requires_grad_(true);
    }

    sealed class LoraFactor : nn.Module
    {
        public readonly Parameter weight;
        public LoraFactor(int rows, int cols, ScalarType dtype) : base("LoraFactor")
        {
            weight = new Parameter(zeros(rows, cols, dtype));
            RegisterComponents();
        }
    }
}

/// <summary>
/// Projections of one input (Q, K, V; or gate and up) whose weights live in one (Σ out, in) buffer:
/// each part is an ordinary <see cref="Linear"/> (own checkpoint key, own gradient, LoRA adapter),
/// its weight a row-slice view of the buffer, so inference can run all of them as one GEMM —
/// one weight read and one dispatch instead of several. In-place writes to a part (weight
/// loading, optimizer steps, adapter merges) land in the buffer, so the fused weight is never stale.
/// </summary>
internal sealed class FusedProjection : IDisposable
{
    readonly Tensor _weight;                        // (Σ out, in)
    readonly Tensor? _bias;                         // (Σ out)
    readonly Linear[] _parts;
    readonly Parameter[] _partWeights;

    public IReadOnlyList<Linear> Parts => _parts;

    /// <summary>Process-wide switch for A/B measurement of the fused GEMM against the parts run one by one.</summary>
    internal static bool Enabled { get; set; } = true;

    public FusedProjection(int inFeatures, IReadOnlyList<int> outFeatures, bool hasBias, ScalarType dtype)
    {
        int total = outFeatures.Sum();
        _weight = empty(total, inFeatures, dtype).DetachFromDisposeScope();
        _bias = hasBias ? zeros(total, dtype).DetachFromDisposeScope() : null;
        _parts = new Linear[outFeatures.Count];
        for (int i = 0, row = 0; i < _parts.Length; row += outFeatures[i], i++)
            _parts[i] = new Linear(inFeatures, outFeatures[i], _bias?.narrow(0, row, outFeatures[i]), _weight.narrow(0, row, outFeatures[i]));
        _partWeights = _parts.Select(p => p.weight).ToArray();
        // Each Linear initialised its weight in place; the buffer must have seen it (Parameter shares storage).
        using (no_grad())
            for (int i = 0, row = 0; i < _parts.Length; row += outFeatures[i], i++)
                using (var view = _weight.narrow(0, row, outFeatures[i]))
                    if (!view.allclose(_parts[i].weight, 0, 0)) throw new InvalidOperationException("a fused projection's parameter does not share the fused buffer's storage");
    }

    /// <summary>
    /// Inputs of at most this many rows (B·T) take the fused GEMM. Measured on the 29.5 M bench model
    /// (2 AVX2 cores, thread CPU time, interleaved): one decode row gains 2 % per step from the saved
    /// dispatches; 16 rows lose 8 % (the wide GEMM is slower than the parts at that shape).
    /// </summary>
    internal const int MaxFusedRows = 4;

    /// <summary>
    /// True when one GEMM computes what the parts compute and pays: no autograd (training goes
    /// through the parts, whose gradients are separate), no active adapter, the parts still hold
    /// the parameters made over the buffer (Module.to() replaces them with copies), and few rows.
    /// </summary>
    public bool CanFuse(Tensor x)
    {
        if (!Enabled || is_grad_enabled() || x.numel() > MaxFusedRows * x.shape[^1]) return false;
        for (int i = 0; i < _parts.Length; i++)
            if ((_parts[i].HasAdapter && _parts[i].AdapterEnabled) || !ReferenceEquals(_parts[i].weight, _partWeights[i])) return false;
        return true;
    }

    /// <summary>All parts' outputs side by side (..., Σ out), in the order they were given.</summary>
    public Tensor Forward(Tensor x) => InferenceGemm.Linear(x, _weight, _bias);

    public void Dispose() { _weight.Dispose(); _bias?.Dispose(); }
}

/// <summary>RMSNorm (Zhang &amp; Sennrich 2019): x / √(mean(x²) + ε) · weight, computed in fp32.</summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;               // (d)
    readonly double _eps;

    public RmsNorm(int dim, double eps, ScalarType dtype = ScalarType.Float32) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(dim, dtype));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        bool fp32 = x.dtype == ScalarType.Float32;
        var xf = fp32 ? x : x.to_type(ScalarType.Float32);
        var normed = xf * rsqrt(xf.Squared().mean([-1L], keepdim: true).PlusInPlace(_eps)); // (..., d)
        return ((fp32 ? normed : normed.to_type(x.dtype)) * weight).MoveToOuterDisposeScope();
    }

    /// <summary>The same as <see cref="forward"/> with in-place intermediates (inference; callers own the scope).</summary>
    public Tensor ForwardInference(Tensor x)
    {
        if (x.dtype != ScalarType.Float32) return forward(x);
        using var r = x.Squared();                                                  // (..., d)
        using var inv = r.mean([-1L], keepdim: true).PlusInPlace(_eps).rsqrt_();   // (..., 1)
        return x.mul(inv).mul_(weight);                                             // (..., d)
    }
}

/// <summary>LayerNorm with HF parameter names (`weight`, `bias`).</summary>
internal sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter bias;
    readonly double _eps;

    public LayerNorm(int dim, double eps, ScalarType dtype = ScalarType.Float32) : base(nameof(LayerNorm))
    {
        weight = new Parameter(ones(dim, dtype));
        bias = new Parameter(zeros(dim, dtype));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.layer_norm(x, [weight.shape[0]], weight, bias, _eps);
}

/// <summary>Token (or position) embedding table with the HF parameter name `weight`.</summary>
internal sealed class Embedding : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;               // (n, d)

    public Embedding(int count, int dim, ScalarType dtype = ScalarType.Float32) : base(nameof(Embedding))
    {
        weight = new Parameter(empty(count, dim, dtype));
        using (no_grad()) weight.normal_(0, 0.02);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        using var flat = ids.reshape(-1);
        return weight.index_select(0, flat).reshape([.. ids.shape, weight.shape[1]]); // (..., d)
    }
}
