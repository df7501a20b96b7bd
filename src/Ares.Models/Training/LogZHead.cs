using Ares.Core.Formats;
using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.Models.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.Models.Training;

/// <summary>
/// The learned, context-conditional log-partition estimate log Z(c) of trajectory balance (Lee et al.
/// 2024, as in their public code): a linear map from the mean-pooled hidden state of the prompt
/// context c to a scalar. Starts at log Z = 0 (zero weights and bias), so the first residuals are
/// the raw −log R. Responsible for its own weights and their file; does not own the language model
/// whose hidden states it reads, which are taken without gradient (only the head learns from the
/// log Z path; the policy learns from Σ log π).
/// </summary>
internal sealed class LogZHead : nn.Module<Tensor, Tensor, Tensor>
{
    public const string FileName = "log_z_head.safetensors";
    readonly TorchSharp.Modules.Linear proj;

    public LogZHead(int hiddenSize) : base("log_z_head")
    {
        if (hiddenSize < 1) throw new ArgumentException($"log Z head: hidden size must be ≥ 1, got {hiddenSize}");
        HiddenSize = hiddenSize;
        proj = nn.Linear(hiddenSize, 1);
        using (no_grad()) { proj.weight!.zero_(); proj.bias!.zero_(); }
        RegisterComponents();
    }

    public int HiddenSize { get; }

    /// <summary>log Z (B) from hidden states (B, T, d) mean-pooled over the real tokens <paramref name="valid"/> (B, T).</summary>
    public override Tensor forward(Tensor hidden, Tensor valid)
    {
        using var scope = NewDisposeScope();
        var w = valid.to_type(ScalarType.Float32).unsqueeze(-1);                          // (B, T, 1)
        var pooled = (hidden.to_type(ScalarType.Float32) * w).sum(1) / w.sum(1).ClampMin(1L); // (B, d)
        return proj.forward(pooled).squeeze(-1).MoveToOuterDisposeScope();                // (B)
    }

    /// <summary>log Z(c) (B) for each context, reading <paramref name="model"/>'s hidden states without gradient (eval mode).</summary>
    public Tensor Estimate(CausalLM model, IReadOnlyList<int[]> contexts)
    {
        if (model.Config.HiddenSize != HiddenSize)
            throw new ArgumentException($"log Z head expects hidden size {HiddenSize}, the model has {model.Config.HiddenSize}");
        using var scope = NewDisposeScope();
        Tensor hidden;
        using var batch = new PaddedBatch(contexts.Select(c => (IReadOnlyList<int>)c).ToList());
        using (no_grad())
        {
            bool wasTraining = model.training;
            model.eval();
            try { hidden = model.Hidden(batch.Ids, batch.Positions, batch.KeyValidOrNull); }   // (B, T, d)
            finally { model.train(wasTraining); }
        }
        return forward(hidden, batch.Valid).MoveToOuterDisposeScope();                    // (B)
    }

    public IReadOnlyList<Parameter> Parameters() => [.. parameters()];

    /// <summary>Writes the head to <paramref name="dir"/>/<see cref="FileName"/> (fp32).</summary>
    public void Save(string dir)
    {
        Directory.CreateDirectory(dir);
        SafetensorsTorch.Write(Path.Combine(dir, FileName), [("proj.weight", (Tensor)proj.weight!), ("proj.bias", (Tensor)proj.bias!)]);
    }

    /// <summary>Reads a head saved by <see cref="Save"/>; errors name the file, the tensor and the expected shape.</summary>
    public static LogZHead Load(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: log Z head not found", path);
        using var reader = SafetensorsFile.Open(path);
        if (!reader.Tensors.TryGetValue("proj.weight", out var w) || w.Shape.Length != 2 || w.Shape[0] != 1)
            throw new ModelFormatException($"{path}: expected tensor 'proj.weight' of shape [1, hidden]");
        if (!reader.Tensors.TryGetValue("proj.bias", out var b) || !b.Shape.SequenceEqual([1L]))
            throw new ModelFormatException($"{path}: expected tensor 'proj.bias' of shape [1]");
        var head = new LogZHead((int)w.Shape[1]);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        head.proj.weight!.copy_(WeightLoader.Read(reader, w));
        head.proj.bias!.copy_(WeightLoader.Read(reader, b));
        return head;
    }
}
