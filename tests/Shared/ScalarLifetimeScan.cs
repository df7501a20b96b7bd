using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Ares;

/// <summary>
/// Finds, by reading IL, the places where an assembly lets a TorchSharp <c>Scalar</c> die while
/// native code still reads it.
/// <para>
/// TorchSharp 0.107's <c>Scalar</c> owns a native handle and frees it in a finalizer. Its tensor ops
/// pass only the raw handle to libtorch and do not call <c>GC.KeepAlive</c>. So a Scalar that nothing
/// references after its handle is read (<c>x * 0.5</c>, <c>p.add_(g, alpha: a)</c>) can be finalized
/// during the native call. It takes a GC triggered by another thread, and it is a use-after-free:
/// either libtorch fails ("Unknown scalar type", "Expected false to be true") or the op reads a
/// wrong value with no error. A repro measured both: 135 errors in 1.27 M
/// <c>add_(g, alpha: 0.001)</c> calls with a GC-ing thread beside them, and a drifted result.
/// </para>
/// <para>
/// Rules checked:
/// (1) no implicit conversion to Scalar (<c>Scalar.op_Implicit</c>);
/// (2) no call to a TorchSharp method that makes a temporary Scalar itself, directly or through
///     other TorchSharp methods (<c>operator *(Tensor, double)</c>, <c>a + b</c>, <c>Tensor.ToSingle</c>, …);
/// (3) no TorchSharp optimizer (<c>torch.optim.*</c>): their <c>step</c> makes Scalars for every
///     parameter, behind a virtual call that rule (2) cannot follow.
/// Explicit <c>ToScalar()</c> is allowed: the caller owns that Scalar and keeps it alive, in a
/// field or with <c>using</c>.
/// </para>
/// </summary>
internal static class ScalarLifetimeScan
{
    const string ScalarType = "TorchSharp.Scalar";

    /// <summary>"Type::Method(sig) → callee" for every hazardous call site in <paramref name="assemblyPath"/>.</summary>
    public static IReadOnlyList<string> Hazards(string assemblyPath, string torchSharpPath)
    {
        var torchHazards = TorchSharpHazards(torchSharpPath);
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var md = pe.GetMetadataReader();
        var names = new SignatureNames(md);
        var found = new List<string>();
        foreach (var (caller, body) in Methods(pe, md, names))
        {
            foreach (var token in CallTokens(body))
            {
                var handle = MetadataTokens.EntityHandle(token);
                if (handle.Kind == HandleKind.MethodSpecification) handle = md.GetMethodSpecification((MethodSpecificationHandle)handle).Method;
                if (handle.Kind != HandleKind.MemberReference) continue;
                var callee = names.MemberReference((MemberReferenceHandle)handle);
                if (callee is null || !callee.StartsWith("TorchSharp.", StringComparison.Ordinal)) continue;
                bool implicitScalar = callee.StartsWith(ScalarType + "::op_Implicit(", StringComparison.Ordinal);
                bool optimizer = callee.StartsWith("TorchSharp.torch+optim::", StringComparison.Ordinal);
                if (implicitScalar || optimizer || torchHazards.Contains(callee)) found.Add($"{caller} → {callee}");
            }
        }
        return found;
    }

    /// <summary>TorchSharp methods that create a Scalar and let it go, or call one that does.</summary>
    static HashSet<string> TorchSharpHazards(string torchSharpPath)
    {
        using var pe = new PEReader(File.OpenRead(torchSharpPath));
        var md = pe.GetMetadataReader();
        var names = new SignatureNames(md);
        var callers = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);  // callee → callers
        var hazards = new HashSet<string>(StringComparer.Ordinal);
        var returnsScalar = new HashSet<string>(StringComparer.Ordinal);
        var bodies = Methods(pe, md, names).ToList();
        foreach (var (name, _) in bodies)
            if (name.Contains(")" + ScalarType, StringComparison.Ordinal)) returnsScalar.Add(name);
        foreach (var (caller, body) in bodies)
        {
            foreach (var token in CallTokens(body))
            {
                var handle = MetadataTokens.EntityHandle(token);
                if (handle.Kind == HandleKind.MethodSpecification) handle = md.GetMethodSpecification((MethodSpecificationHandle)handle).Method;
                if (handle.Kind != HandleKind.MethodDefinition) continue;
                var callee = names.MethodDefinition((MethodDefinitionHandle)handle);
                if (!callers.TryGetValue(callee, out var set)) callers[callee] = set = new(StringComparer.Ordinal);
                set.Add(caller);
                // A method that gets a Scalar from a factory and does not hand it back lets it die after use.
                if (returnsScalar.Contains(callee) && !returnsScalar.Contains(caller)) hazards.Add(caller);
            }
        }
        var queue = new Queue<string>(hazards);
        while (queue.Count > 0)
            if (callers.TryGetValue(queue.Dequeue(), out var set))
                foreach (var c in set)
                    if (hazards.Add(c)) queue.Enqueue(c);
        return hazards;
    }

    /// <summary>Every method with a body, named "Namespace.Type::Name(params)Return" (lambdas are methods of compiler-made types).</summary>
    static IEnumerable<(string Name, MethodBodyBlock Body)> Methods(PEReader pe, MetadataReader md, SignatureNames names)
    {
        foreach (var th in md.TypeDefinitions)
            foreach (var mh in md.GetTypeDefinition(th).GetMethods())
            {
                var m = md.GetMethodDefinition(mh);
                if (m.RelativeVirtualAddress == 0) continue;
                yield return (names.MethodDefinition(mh), pe.GetMethodBody(m.RelativeVirtualAddress));
            }
    }

    /// <summary>Operand tokens of call, callvirt, newobj and ldftn/ldvirtftn (a lambda handed to a callee runs as part of it).</summary>
    static IEnumerable<int> CallTokens(MethodBodyBlock body)
    {
        var il = body.GetILReader();
        var tokens = new List<int>();
        while (il.RemainingBytes > 0)
        {
            int first = il.ReadByte();
            var op = first == 0xFE ? (ILOpCode)(0xFE00 | il.ReadByte()) : (ILOpCode)first;
            switch (op)
            {
                case ILOpCode.Call or ILOpCode.Callvirt or ILOpCode.Newobj or ILOpCode.Ldftn or ILOpCode.Ldvirtftn:
                    tokens.Add(il.ReadInt32());
                    break;
                case ILOpCode.Switch:
                    int targets = il.ReadInt32(); // read first: `il.Offset += 4 * il.ReadInt32()` would add to the offset before the read
                    il.Offset += 4 * targets;
                    break;
                default:
                    il.Offset += OperandSize(op);
                    break;
            }
        }
        return tokens;
    }

    static int OperandSize(ILOpCode op) => op switch
    {
        ILOpCode.Ldarg_s or ILOpCode.Ldarga_s or ILOpCode.Starg_s or ILOpCode.Ldloc_s or ILOpCode.Ldloca_s or ILOpCode.Stloc_s
            or ILOpCode.Ldc_i4_s or ILOpCode.Unaligned or ILOpCode.Br_s or ILOpCode.Brfalse_s or ILOpCode.Brtrue_s
            or ILOpCode.Beq_s or ILOpCode.Bge_s or ILOpCode.Bgt_s or ILOpCode.Ble_s or ILOpCode.Blt_s or ILOpCode.Bne_un_s
            or ILOpCode.Bge_un_s or ILOpCode.Bgt_un_s or ILOpCode.Ble_un_s or ILOpCode.Blt_un_s or ILOpCode.Leave_s => 1,
        ILOpCode.Ldarg or ILOpCode.Ldarga or ILOpCode.Starg or ILOpCode.Ldloc or ILOpCode.Ldloca or ILOpCode.Stloc => 2,
        ILOpCode.Ldc_i8 or ILOpCode.Ldc_r8 => 8,
        ILOpCode.Ldc_i4 or ILOpCode.Ldc_r4 or ILOpCode.Br or ILOpCode.Brfalse or ILOpCode.Brtrue or ILOpCode.Beq or ILOpCode.Bge
            or ILOpCode.Bgt or ILOpCode.Ble or ILOpCode.Blt or ILOpCode.Bne_un or ILOpCode.Bge_un or ILOpCode.Bgt_un
            or ILOpCode.Ble_un or ILOpCode.Blt_un or ILOpCode.Leave => 4,
        ILOpCode.Jmp or ILOpCode.Calli or ILOpCode.Ldfld or ILOpCode.Ldflda or ILOpCode.Stfld or ILOpCode.Ldsfld or ILOpCode.Ldsflda
            or ILOpCode.Stsfld or ILOpCode.Ldstr or ILOpCode.Ldtoken or ILOpCode.Box or ILOpCode.Unbox or ILOpCode.Unbox_any
            or ILOpCode.Castclass or ILOpCode.Isinst or ILOpCode.Newarr or ILOpCode.Ldelema or ILOpCode.Ldelem or ILOpCode.Stelem
            or ILOpCode.Cpobj or ILOpCode.Ldobj or ILOpCode.Stobj or ILOpCode.Initobj or ILOpCode.Mkrefany or ILOpCode.Refanyval
            or ILOpCode.Sizeof or ILOpCode.Constrained => 4,
        _ => 0,
    };

    /// <summary>Names methods the same way whether they are defined here or referenced from another assembly.</summary>
    sealed class SignatureNames(MetadataReader md) : ISignatureTypeProvider<string, object?>
    {
        public string MethodDefinition(MethodDefinitionHandle h)
        {
            var m = md.GetMethodDefinition(h);
            var sig = m.DecodeSignature(this, null);
            return $"{TypeName(m.GetDeclaringType())}::{md.GetString(m.Name)}({string.Join(",", sig.ParameterTypes)}){sig.ReturnType}";
        }

        public string? MemberReference(MemberReferenceHandle h)
        {
            var r = md.GetMemberReference(h);
            if (r.GetKind() != MemberReferenceKind.Method) return null;
            string parent = r.Parent.Kind switch
            {
                HandleKind.TypeReference => TypeName((TypeReferenceHandle)r.Parent),
                HandleKind.TypeDefinition => TypeName((TypeDefinitionHandle)r.Parent),
                HandleKind.TypeSpecification => GenericDefinition((TypeSpecificationHandle)r.Parent),
                _ => "?",
            };
            var sig = r.DecodeMethodSignature(this, null);
            return $"{parent}::{md.GetString(r.Name)}({string.Join(",", sig.ParameterTypes)}){sig.ReturnType}";
        }

        // A member of Module<Tensor, Tensor> is matched against Module`2's own definition, whose
        // signature speaks of !0, !1: keep the open form on both sides.
        string GenericDefinition(TypeSpecificationHandle h)
        {
            var reader = md.GetBlobReader(md.GetTypeSpecification(h).Signature);
            if (reader.ReadSignatureTypeCode() != SignatureTypeCode.GenericTypeInstance) return "?";
            reader.ReadSignatureTypeCode();
            var type = reader.ReadTypeHandle();
            return type.Kind switch
            {
                HandleKind.TypeReference => TypeName((TypeReferenceHandle)type),
                HandleKind.TypeDefinition => TypeName((TypeDefinitionHandle)type),
                _ => "?",
            };
        }

        string TypeName(TypeDefinitionHandle h)
        {
            var t = md.GetTypeDefinition(h);
            var outer = t.GetDeclaringType();
            return outer.IsNil ? Join(md.GetString(t.Namespace), md.GetString(t.Name)) : $"{TypeName(outer)}+{md.GetString(t.Name)}";
        }

        string TypeName(TypeReferenceHandle h)
        {
            var t = md.GetTypeReference(h);
            return t.ResolutionScope.Kind == HandleKind.TypeReference
                ? $"{TypeName((TypeReferenceHandle)t.ResolutionScope)}+{md.GetString(t.Name)}"
                : Join(md.GetString(t.Namespace), md.GetString(t.Name));
        }

        static string Join(string ns, string name) => ns.Length == 0 ? name : $"{ns}.{name}";

        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => TypeName(handle);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => TypeName(handle);
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => GenericDefinition(handle);
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetArrayType(string elementType, ArrayShape shape) => $"{elementType}[{new string(',', shape.Rank - 1)}]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPinnedType(string elementType) => elementType;
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => $"{genericType}<{string.Join(",", typeArguments)}>";
        public string GetGenericMethodParameter(object? context, int index) => $"!!{index}";
        public string GetGenericTypeParameter(object? context, int index) => $"!{index}";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetTypeFromSerializedName(string name) => name;
        public PrimitiveTypeCode GetUnderlyingEnumType(string type) => PrimitiveTypeCode.Int32;
        public bool IsSystemType(string type) => type == "System.Type";
        public string GetSystemType() => "System.Type";
    }
}
