using Ares.Core.Formats;
using Ares.Models.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Ares.Models.Loading;

/// <summary>
/// Strict weight loading: every parameter of the module must be found in the checkpoint with the
/// expected shape, and every checkpoint tensor must be used (bar known non-parameter buffers).
/// Mismatches raise <see cref="ModelFormatException"/> naming the file and the tensor.
/// </summary>
internal static class WeightLoader
{
    /// <summary>Maps a module parameter name to a checkpoint tensor and, optionally, a fix-up applied after reading (B×shape).</summary>
    internal delegate (TensorEntry Entry, ITensorReader Reader, Func<Tensor, Tensor>? Transform)? Resolve(string parameterName);

    public static void Load(CausalLM model, string source, Resolve resolve, IEnumerable<(string Name, ITensorReader Reader)> allTensors,
        Func<string, bool> ignorable)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        using var _ = no_grad();
        foreach (var (name, param) in model.named_parameters())
        {
            var found = resolve(name);
            if (found is null) { missing.Add(name); continue; }
            var (entry, reader, transform) = found.Value;
            used.Add(entry.Name);
            using var scope = NewDisposeScope();
            var loaded = Read(reader, entry);
            if (transform is not null) loaded = transform(loaded);
            if (!loaded.shape.SequenceEqual(param.shape))
                throw new ModelFormatException($"{reader.FilePath}: tensor '{entry.Name}' has shape [{string.Join(", ", loaded.shape)}] " +
                    $"but the config implies [{string.Join(", ", param.shape)}] for '{name}'");
            param.copy_(loaded);
        }
        if (missing.Count > 0)
            throw new ModelFormatException($"{source}: missing tensors: {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? $" and {missing.Count - 8} more" : "")}");
        var unexpected = allTensors.Where(t => !used.Contains(t.Name) && !ignorable(t.Name)).Select(t => t.Name).ToList();
        if (unexpected.Count > 0)
            throw new ModelFormatException($"{source}: unexpected tensors (not part of a {model.Config.HfArchitectureName}): {string.Join(", ", unexpected.Take(8))}{(unexpected.Count > 8 ? $" and {unexpected.Count - 8} more" : "")}");
    }

    /// <summary>Reads one tensor into a new CPU tensor: F32/F16/BF16 as stored, GGUF block quantisations (Q4_0 … Q6_K) dequantised to fp32.</summary>
    public static Tensor Read(ITensorReader reader, TensorEntry e)
    {
        if (e.ByteLength > int.MaxValue) throw new ModelFormatException($"{reader.FilePath}: tensor '{e.Name}' is {e.ByteLength} bytes; tensors over 2 GiB are not supported");
        var bytes = GC.AllocateUninitializedArray<byte>((int)e.ByteLength);
        reader.ReadBytes(e, bytes);
        ScalarType? direct = e.DType switch
        {
            TensorDType.F32 => ScalarType.Float32,
            TensorDType.F16 => ScalarType.Float16,
            TensorDType.BF16 => ScalarType.BFloat16,
            TensorDType.F64 => ScalarType.Float64,
            _ => null,
        };
        if (direct is ScalarType st)
        {
            var t = empty(e.Shape, st);
            t.bytes = bytes;
            return t;
        }
        if (GgufQuants.IsQuantized(e.DType))
        {
            var floats = new float[e.ElementCount];
            TensorDTypes.ToFloat32(e.DType, bytes, floats);
            return tensor(floats).reshape(e.Shape);
        }
        throw new ModelFormatException($"{reader.FilePath}: tensor '{e.Name}' has dtype {e.DType}, which is not a floating-point weight type");
    }
}
