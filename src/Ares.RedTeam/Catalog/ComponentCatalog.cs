using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ares.RedTeam.Catalog;

/// <summary>The four component types the Safety Mentor combines (ARES §Discovery).</summary>
internal enum ComponentKind { Topic, Persona, Tactic, Goal }

/// <summary>
/// A catalog entry. <see cref="Texts"/> holds the surface forms the template mentor composes
/// from: topic subjects, persona phrases, tactic templates (with {request} and optionally
/// {persona}), goal phrases (with {subject}). Constraints: <see cref="OnlyWith"/> lists, per
/// other kind, the only ids this entry may be combined with; <see cref="NeverWith"/> the ids it
/// must not be combined with.
/// </summary>
internal sealed record ComponentEntry
{
    public required string Id { get; init; }
    public required ComponentKind Kind { get; init; }
    public required string Description { get; init; }
    public required IReadOnlyList<string> Texts { get; init; }
    /// <summary>Topics only: what a safe response offers instead (e.g. "how firearm laws work").</summary>
    public IReadOnlyList<string> SafeAlternatives { get; init; } = [];
    /// <summary>Goals only: malicious-response shapes with {subject}; the harmful part is always a stand-in ("[redacted]").</summary>
    public IReadOnlyList<string> MaliciousTemplates { get; init; } = [];
    public IReadOnlyDictionary<ComponentKind, IReadOnlySet<string>> OnlyWith { get; init; } = new Dictionary<ComponentKind, IReadOnlySet<string>>();
    public IReadOnlyDictionary<ComponentKind, IReadOnlySet<string>> NeverWith { get; init; } = new Dictionary<ComponentKind, IReadOnlySet<string>>();

    /// <summary>Whether this entry's constraints allow <paramref name="other"/>'s id of kind <paramref name="kind"/>.</summary>
    public bool Allows(ComponentKind kind, string other) =>
        (!OnlyWith.TryGetValue(kind, out var only) || only.Contains(other)) &&
        (!NeverWith.TryGetValue(kind, out var never) || !never.Contains(other));
}

/// <summary>A catalog file that does not validate; the message names the file, the entry and the field.</summary>
internal sealed class CatalogException(string message) : Exception(message);

/// <summary>
/// The versioned components catalog. The default ships embedded in the assembly
/// (Catalog/default-catalog.json); users supply their own file in the same format
/// (see <see cref="Load"/>).
/// </summary>
internal sealed class ComponentCatalog
{
    public static readonly ComponentKind[] Kinds = [ComponentKind.Topic, ComponentKind.Persona, ComponentKind.Tactic, ComponentKind.Goal];

    public required string Version { get; init; }
    /// <summary>Where the catalog came from (a path, or "builtin:default").</summary>
    public required string Source { get; init; }
    public required IReadOnlyDictionary<ComponentKind, IReadOnlyList<ComponentEntry>> Entries { get; init; }
    /// <summary>Safe-response templates with {subject} and {alternative}.</summary>
    public required IReadOnlyList<string> SafeTemplates { get; init; }

    public IReadOnlyList<ComponentEntry> Topics => Entries[ComponentKind.Topic];
    public IReadOnlyList<ComponentEntry> Personas => Entries[ComponentKind.Persona];
    public IReadOnlyList<ComponentEntry> Tactics => Entries[ComponentKind.Tactic];
    public IReadOnlyList<ComponentEntry> Goals => Entries[ComponentKind.Goal];

    public ComponentEntry Get(ComponentKind kind, string id) =>
        Entries[kind].FirstOrDefault(e => e.Id == id)
        ?? throw new CatalogException($"{Source}: no {JsonKey(kind)} entry with id '{id}'");

    /// <summary>True when every entry of the tuple exists and each one's constraints allow the others.</summary>
    public bool IsCompatible(ComponentTuple t)
    {
        var entries = new List<ComponentEntry>(4);
        foreach (var kind in Kinds)
        {
            var e = Entries[kind].FirstOrDefault(x => x.Id == t[kind]);
            if (e is null) return false;
            entries.Add(e);
        }
        foreach (var e in entries)
            foreach (var kind in Kinds)
                if (kind != e.Kind && !e.Allows(kind, t[kind])) return false;
        return true;
    }

    /// <summary>Every compatible tuple, in catalog order (topic, persona, tactic, goal).</summary>
    public IReadOnlyList<ComponentTuple> CompatibleTuples()
    {
        var all = new List<ComponentTuple>();
        foreach (var topic in Topics)
            foreach (var persona in Personas)
                foreach (var tactic in Tactics)
                    foreach (var goal in Goals)
                    {
                        var t = new ComponentTuple(topic.Id, persona.Id, tactic.Id, goal.Id);
                        if (IsCompatible(t)) all.Add(t);
                    }
        return all;
    }

    /// <summary>The catalog that ships with Ares.</summary>
    public static ComponentCatalog Default()
    {
        using var s = typeof(ComponentCatalog).Assembly.GetManifestResourceStream("Ares.RedTeam.default-catalog.json")
            ?? throw new InvalidOperationException("the default catalog resource is missing from the assembly");
        using var r = new StreamReader(s);
        return Parse(r.ReadToEnd(), "builtin:default");
    }

    /// <summary>Reads and validates a catalog file.</summary>
    public static ComponentCatalog Load(string path)
    {
        if (!File.Exists(path)) throw new CatalogException($"{path}: catalog file not found");
        return Parse(File.ReadAllText(path), path);
    }

    public static string JsonKey(ComponentKind kind) => kind switch
    {
        ComponentKind.Topic => "topics",
        ComponentKind.Persona => "personas",
        ComponentKind.Tactic => "tactics",
        _ => "goals",
    };

    static string TextsKey(ComponentKind kind) => kind switch
    {
        ComponentKind.Topic => "subjects",
        ComponentKind.Persona => "phrases",
        ComponentKind.Tactic => "templates",
        _ => "phrases",
    };

    /// <summary>Parses and validates catalog JSON; <paramref name="source"/> names it in errors.</summary>
    public static ComponentCatalog Parse(string json, string source)
    {
        var (root, _) = ConfigReader.Open(json, source, m => new CatalogException(m));

        var version = root["version"] is JsonValue v && v.TryGetValue<string>(out var vs) && vs.Length > 0
            ? vs : throw new CatalogException($"{source}: field 'version' must be a non-empty string");
        foreach (var key in root.Select(p => p.Key))
            if (key is not ("version" or "description" or "topics" or "personas" or "tactics" or "goals" or "safe_templates"))
                throw new CatalogException($"{source}: unknown top-level field '{key}' (expected version, description, topics, personas, tactics, goals, safe_templates)");

        var entries = new Dictionary<ComponentKind, IReadOnlyList<ComponentEntry>>();
        foreach (var kind in Kinds) entries[kind] = ParseKind(root, kind, source);
        var safe = Strings(root["safe_templates"], $"{source}: safe_templates", required: true);
        foreach (var (t, i) in safe.Select((t, i) => (t, i)))
            Require(t.Contains("{subject}"), $"{source}: safe_templates[{i}] must contain {{subject}}");

        var catalog = new ComponentCatalog { Version = version, Source = source, Entries = entries, SafeTemplates = safe };
        catalog.ValidateReferences();
        return catalog;
    }

    static IReadOnlyList<ComponentEntry> ParseKind(JsonObject root, ComponentKind kind, string source)
    {
        var key = JsonKey(kind);
        if (root[key] is not JsonArray arr || arr.Count == 0)
            throw new CatalogException($"{source}: field '{key}' must be a non-empty array of entries");
        var list = new List<ComponentEntry>();
        var seen = new HashSet<string>();
        for (var i = 0; i < arr.Count; i++)
        {
            if (arr[i] is not JsonObject o) throw new CatalogException($"{source}: {key}[{i}] must be an object");
            var id = o["id"] is JsonValue iv && iv.TryGetValue<string>(out var ids) ? ids : null;
            Require(id is { Length: > 0 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'),
                $"{source}: {key}[{i}] field 'id' must be a non-empty string of letters, digits, '_' or '-'");
            var where = $"{source}: {key} entry '{id}'";
            Require(seen.Add(id!), $"{where}: duplicate id");
            var allowed = new HashSet<string> { "id", "description", TextsKey(kind), "only_with", "never_with" };
            if (kind == ComponentKind.Topic) allowed.Add("safe_alternatives");
            if (kind == ComponentKind.Goal) allowed.Add("malicious");
            foreach (var field in o.Select(p => p.Key))
                Require(allowed.Contains(field), $"{where}: unknown field '{field}' (expected {string.Join(", ", allowed)})");
            var description = o["description"] is JsonValue dv && dv.TryGetValue<string>(out var ds) && ds.Trim().Length > 0
                ? ds : throw new CatalogException($"{where}: field 'description' must be a non-empty string");
            var texts = Strings(o[TextsKey(kind)], $"{where}: field '{TextsKey(kind)}'", required: true);
            for (var j = 0; j < texts.Count; j++)
            {
                var t = texts[j];
                if (kind == ComponentKind.Tactic)
                    Require(t.Contains("{request}"), $"{where}: field 'templates'[{j}] must contain {{request}}");
                if (kind == ComponentKind.Goal)
                    Require(t.Contains("{subject}"), $"{where}: field 'phrases'[{j}] must contain {{subject}}");
                Require(!t.Contains('{') || kind is ComponentKind.Tactic or ComponentKind.Goal,
                    $"{where}: field '{TextsKey(kind)}'[{j}] must not contain placeholders");
            }
            var entry = new ComponentEntry
            {
                Id = id!, Kind = kind, Description = description, Texts = texts,
                SafeAlternatives = kind == ComponentKind.Topic ? Strings(o["safe_alternatives"], $"{where}: field 'safe_alternatives'", required: true) : [],
                MaliciousTemplates = kind == ComponentKind.Goal ? Strings(o["malicious"], $"{where}: field 'malicious'", required: true) : [],
                OnlyWith = Constraints(o["only_with"], kind, $"{where}: field 'only_with'"),
                NeverWith = Constraints(o["never_with"], kind, $"{where}: field 'never_with'"),
            };
            foreach (var (m, j) in entry.MaliciousTemplates.Select((m, j) => (m, j)))
            {
                Require(m.Contains("{subject}"), $"{where}: field 'malicious'[{j}] must contain {{subject}}");
                Require(m.Contains("[redacted]"), $"{where}: field 'malicious'[{j}] must mark the harmful part as [redacted] (Ares never stores real harmful instructions)");
            }
            list.Add(entry);
        }
        return list;
    }

    static IReadOnlyDictionary<ComponentKind, IReadOnlySet<string>> Constraints(JsonNode? node, ComponentKind self, string where)
    {
        var result = new Dictionary<ComponentKind, IReadOnlySet<string>>();
        if (node is null) return result;
        if (node is not JsonObject o) throw new CatalogException($"{where} must be an object mapping a component type to a list of ids");
        foreach (var (key, value) in o)
        {
            var kind = Kinds.Where(k => JsonKey(k) == key).Select(k => (ComponentKind?)k).FirstOrDefault()
                ?? throw new CatalogException($"{where}: unknown component type '{key}' (expected topics, personas, tactics or goals)");
            Require(kind != self, $"{where}: '{key}' constrains the entry's own type");
            result[kind] = Strings(value, $"{where}.{key}", required: true).ToHashSet();
        }
        return result;
    }

    static List<string> Strings(JsonNode? node, string where, bool required)
    {
        if (node is null && !required) return [];
        if (node is not JsonArray arr || arr.Count == 0) throw new CatalogException($"{where} must be a non-empty array of strings");
        var list = new List<string>();
        for (var i = 0; i < arr.Count; i++)
        {
            if (arr[i] is not JsonValue v || !v.TryGetValue<string>(out var s) || s.Trim().Length == 0)
                throw new CatalogException($"{where}[{i}] must be a non-empty string");
            list.Add(s);
        }
        return list;
    }

    void ValidateReferences()
    {
        foreach (var kind in Kinds)
            foreach (var e in Entries[kind])
                foreach (var (field, map) in new[] { ("only_with", e.OnlyWith), ("never_with", e.NeverWith) })
                    foreach (var (otherKind, ids) in map)
                        foreach (var id in ids)
                            Require(Entries[otherKind].Any(x => x.Id == id),
                                $"{Source}: {JsonKey(kind)} entry '{e.Id}': field '{field}.{JsonKey(otherKind)}' names unknown id '{id}'");
        var tuples = CompatibleTuples();
        Require(tuples.Count > 0, $"{Source}: the constraints leave no compatible (topic, persona, tactic, goal) tuple");
        foreach (var kind in Kinds)
            foreach (var e in Entries[kind])
                Require(tuples.Any(t => t[kind] == e.Id),
                    $"{Source}: {JsonKey(kind)} entry '{e.Id}': its constraints (or others') exclude it from every tuple");
    }

    static void Require(bool ok, string message)
    {
        if (!ok) throw new CatalogException(message);
    }
}
