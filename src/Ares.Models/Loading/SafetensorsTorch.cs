using Ares.Core.Formats;
using static TorchSharp.torch;

namespace Ares.Models.Loading;

/// <summary>Writes TorchSharp tensors through the shared <see cref="SafetensorsWriter"/> (atomic, streamed).</summary>
internal static class SafetensorsTorch
{
    static readonly Dictionary<string, string> PtFormat = new() { ["format"] = "pt" };

    /// <summary>
    /// A tensor to write, computed by <paramref name="produce"/> only when the writer reaches it (inside a
    /// dispose scope), so a whole model is never converted in memory at once.
    /// </summary>
    public static TensorToWrite Entry(string name, long[] shape, Func<Tensor> produce, TensorDType stored = TensorDType.F32)
    {
        var dtype = stored switch
        {
            TensorDType.F32 => ScalarType.Float32,
            TensorDType.BF16 => ScalarType.BFloat16,
            TensorDType.F16 => ScalarType.Float16,
            _ => throw new ArgumentException($"cannot store '{name}' as {stored}: use F32, BF16 or F16"),
        };
        return new TensorToWrite(name, stored, shape, stream =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            stream.Write(produce().detach().to_type(dtype).contiguous().bytes);
        });
    }

    public static void Write(string path, IReadOnlyList<TensorToWrite> entries) => SafetensorsWriter.Write(path, entries, PtFormat);

    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, TensorDType stored = TensorDType.F32) =>
        Write(path, tensors.Select(t => Entry(t.Name, t.Tensor.shape, () => t.Tensor, stored)).ToList());
}
