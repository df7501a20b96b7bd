using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Ares.Build.Tests;

/// <summary>
/// Which namespace of an assembly uses which other namespace of the same assembly, read from the compiled
/// metadata: base types, interfaces, generic constraints, field/method/property signatures, attributes and
/// every type, method or field token in method bodies. A nested type counts as its outermost type's namespace;
/// compiler-generated types (closures, state machines) therefore count where their user is.
/// </summary>
internal static class NamespaceGraph
{
    /// <summary>Edges "from → to" between distinct, non-empty namespaces of the assembly at <paramref name="path"/>.</summary>
    public static IReadOnlyDictionary<string, IReadOnlySet<string>> Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var edges = new Dictionary<string, HashSet<string>>();
        var provider = new TypeCollector(md);

        foreach (var th in md.TypeDefinitions)
        {
            string from = NamespaceOf(md, th);
            if (from.Length == 0) continue;
            var used = new HashSet<TypeDefinitionHandle>();
            provider.Sink = used;
            var type = md.GetTypeDefinition(th);
            AddType(md, provider, type.BaseType, used);
            foreach (var ih in type.GetInterfaceImplementations())
                AddType(md, provider, md.GetInterfaceImplementation(ih).Interface, used);
            foreach (var gp in type.GetGenericParameters())
                foreach (var ch in md.GetGenericParameter(gp).GetConstraints())
                    AddType(md, provider, md.GetGenericParameterConstraint(ch).Type, used);
            AddAttributes(md, provider, type.GetCustomAttributes(), used);
            foreach (var fh in type.GetFields())
            {
                var f = md.GetFieldDefinition(fh);
                f.DecodeSignature(provider, null);
                AddAttributes(md, provider, f.GetCustomAttributes(), used);
            }
            foreach (var ph in type.GetProperties())
                md.GetPropertyDefinition(ph).DecodeSignature(provider, null);
            foreach (var mh in type.GetMethods())
            {
                var m = md.GetMethodDefinition(mh);
                m.DecodeSignature(provider, null);
                AddAttributes(md, provider, m.GetCustomAttributes(), used);
                foreach (var gp in m.GetGenericParameters())
                    foreach (var ch in md.GetGenericParameter(gp).GetConstraints())
                        AddType(md, provider, md.GetGenericParameterConstraint(ch).Type, used);
                if (m.RelativeVirtualAddress == 0) continue;
                var body = pe.GetMethodBody(m.RelativeVirtualAddress);
                if (!body.LocalSignature.IsNil)
                    md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(provider, null);
                foreach (var token in Tokens(body.GetILBytes() ?? []))
                    AddToken(md, provider, token, used);
            }
            foreach (var target in used)
            {
                string to = NamespaceOf(md, target);
                if (to.Length == 0 || to == from) continue;
                if (!edges.TryGetValue(from, out var set)) edges[from] = set = [];
                set.Add(to);
            }
        }
        return edges.ToDictionary(e => e.Key, e => (IReadOnlySet<string>)e.Value);
    }

    /// <summary>Pairs of namespaces that reach each other (a cycle), each named once as "A ↔ B" with A &lt; B.</summary>
    public static IReadOnlyList<string> Cycles(IReadOnlyDictionary<string, IReadOnlySet<string>> edges)
    {
        var nodes = edges.Keys.Concat(edges.Values.SelectMany(v => v)).Distinct().Order(StringComparer.Ordinal).ToList();
        var reach = nodes.ToDictionary(n => n, n => Reachable(edges, n));
        var cycles = new List<string>();
        for (int i = 0; i < nodes.Count; i++)
            for (int j = i + 1; j < nodes.Count; j++)
                if (reach[nodes[i]].Contains(nodes[j]) && reach[nodes[j]].Contains(nodes[i]))
                    cycles.Add($"{nodes[i]} ↔ {nodes[j]}");
        return cycles;
    }

    static HashSet<string> Reachable(IReadOnlyDictionary<string, IReadOnlySet<string>> edges, string start)
    {
        var seen = new HashSet<string>();
        var todo = new Stack<string>([start]);
        while (todo.TryPop(out var n))
            if (edges.TryGetValue(n, out var next))
                foreach (var m in next)
                    if (seen.Add(m)) todo.Push(m);
        return seen;
    }

    static string NamespaceOf(MetadataReader md, TypeDefinitionHandle h)
    {
        var t = md.GetTypeDefinition(h);
        while (t.IsNested) t = md.GetTypeDefinition(t.GetDeclaringType());
        return md.GetString(t.Namespace);
    }

    static void AddType(MetadataReader md, TypeCollector provider, EntityHandle h, HashSet<TypeDefinitionHandle> used)
    {
        if (h.IsNil) return;
        switch (h.Kind)
        {
            case HandleKind.TypeDefinition: used.Add((TypeDefinitionHandle)h); break;
            case HandleKind.TypeSpecification: md.GetTypeSpecification((TypeSpecificationHandle)h).DecodeSignature(provider, null); break;
        }
    }

    static void AddAttributes(MetadataReader md, TypeCollector provider, CustomAttributeHandleCollection attributes, HashSet<TypeDefinitionHandle> used)
    {
        foreach (var ah in attributes)
            AddToken(md, provider, md.GetCustomAttribute(ah).Constructor, used);
    }

    static void AddToken(MetadataReader md, TypeCollector provider, EntityHandle h, HashSet<TypeDefinitionHandle> used)
    {
        switch (h.Kind)
        {
            case HandleKind.TypeDefinition:
            case HandleKind.TypeSpecification:
                AddType(md, provider, h, used);
                break;
            case HandleKind.MethodDefinition:
                var m = md.GetMethodDefinition((MethodDefinitionHandle)h);
                used.Add(m.GetDeclaringType());
                m.DecodeSignature(provider, null);
                break;
            case HandleKind.FieldDefinition:
                var f = md.GetFieldDefinition((FieldDefinitionHandle)h);
                used.Add(f.GetDeclaringType());
                f.DecodeSignature(provider, null);
                break;
            case HandleKind.MemberReference:
                var r = md.GetMemberReference((MemberReferenceHandle)h);
                AddType(md, provider, r.Parent, used);
                if (r.GetKind() == MemberReferenceKind.Method) r.DecodeMethodSignature(provider, null);
                else r.DecodeFieldSignature(provider, null);
                break;
            case HandleKind.MethodSpecification:
                var s = md.GetMethodSpecification((MethodSpecificationHandle)h);
                AddToken(md, provider, s.Method, used);
                s.DecodeSignature(provider, null);
                break;
            case HandleKind.StandaloneSignature:
                var sig = md.GetStandaloneSignature((StandaloneSignatureHandle)h);
                if (sig.GetKind() == StandaloneSignatureKind.Method) sig.DecodeMethodSignature(provider, null);
                break;
        }
    }

    static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes).GetFields()
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value, o => o.OperandType);

    /// <summary>The metadata tokens in an IL stream (type, method, field, signature operands).</summary>
    static IEnumerable<EntityHandle> Tokens(byte[] il)
    {
        int i = 0;
        while (i < il.Length)
        {
            short code = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var operand = Operands[code];
            switch (operand)
            {
                case OperandType.InlineField:
                case OperandType.InlineMethod:
                case OperandType.InlineTok:
                case OperandType.InlineType:
                case OperandType.InlineSig:
                    yield return MetadataTokens.EntityHandle(BitConverter.ToInt32(il, i));
                    i += 4;
                    break;
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar: i += 1; break;
                case OperandType.InlineVar: i += 2; break;
                case OperandType.InlineI8:
                case OperandType.InlineR: i += 8; break;
                case OperandType.InlineSwitch: i += 4 + 4 * BitConverter.ToInt32(il, i); break;
                default: i += 4; break; // InlineBrTarget, InlineI, InlineString, ShortInlineR
            }
        }
    }

    /// <summary>Decodes signatures only for their side effect: every type definition they name goes to <see cref="Sink"/>.</summary>
    sealed class TypeCollector(MetadataReader md) : ISignatureTypeProvider<int, object?>
    {
        public HashSet<TypeDefinitionHandle> Sink { get; set; } = [];
        public int GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) { Sink.Add(handle); return 0; }
        public int GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            md.GetTypeSpecification(handle).DecodeSignature(this, context);
        public int GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => 0;
        public int GetArrayType(int elementType, ArrayShape shape) => 0;
        public int GetByReferenceType(int elementType) => 0;
        public int GetFunctionPointerType(MethodSignature<int> signature) => 0;
        public int GetGenericInstantiation(int genericType, ImmutableArray<int> typeArguments) => 0;
        public int GetGenericMethodParameter(object? genericContext, int index) => 0;
        public int GetGenericTypeParameter(object? genericContext, int index) => 0;
        public int GetModifiedType(int modifier, int unmodifiedType, bool isRequired) => 0;
        public int GetPinnedType(int elementType) => 0;
        public int GetPointerType(int elementType) => 0;
        public int GetPrimitiveType(PrimitiveTypeCode typeCode) => 0;
        public int GetSZArrayType(int elementType) => 0;
    }
}
