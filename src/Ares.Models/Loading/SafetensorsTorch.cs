using Ares.Core.Formats;
using static TorchSharp.torch;

namespace Ares.Models.Loading;

/// <summary>Writes TorchSharp tensors through the shared <see cref="SafetensorsWriter"/> (atomic, streamed).</summary>
internal static class SafetensorsTorch
{
    public static TensorToWrite Entry(string name, Tensor t, TensorDType stored = TensorDType.F32)
    {
        var dtype = stored switch
        {
            TensorDType.F32 => ScalarType.Float32, TensorDType.BF16 => ScalarType.BFloat16, TensorDType.F16 => ScalarType.Float16,
            _ => throw new ArgumentException($"cannot store '{name}' as {stored}: use F32, BF16 or F16"),
        };
        return new TensorToWrite(name, stored, t.shape, stream =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            stream.Write(t.detach().to_type(dtype).contiguous().bytes);
        });
    }

    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, TensorDType stored = TensorDType.F32) =>
        SafetensorsWriter.Write(path, tensors.Select(t => Entry(t.Name, t.Tensor, stored)).ToList(), new Dictionary<string, string> { ["format"] = "pt" });
}
