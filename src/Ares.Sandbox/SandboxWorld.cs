using System.Text.Json;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;

namespace Ares.RedTeam.Sandbox;

/// <summary>
/// The embedded default world Ares red-teams when no pretrained chat model is at hand: a policy, a
/// reward model and a judge with planted weaknesses, built from scratch on first use and cached.
/// Responsible for: where worlds live, the cache check and the atomic swap into place. Does not
/// own: what is built (<see cref="SandboxBuilder"/>).
/// </summary>
internal sealed class SandboxWorld : IRepairWorld, IAttackWorld
{
    public required string Name { get; init; }
    /// <summary>The world's directory (root/name).</summary>
    public required string WorldDir { get; init; }
    /// <summary>Its world.json.</summary>
    public required SandboxManifest Manifest { get; init; }
    /// <summary>True when this call built the world; false on a cache hit.</summary>
    public required bool Built { get; init; }

    SandboxPaths Paths => SandboxPaths.In(WorldDir);
    public string PolicyDir => Paths.Policy;
    public string RewardDir => Paths.Reward;
    public string JudgeDir => Paths.Judge;
    public string DataDir => Paths.Data;
    public SandboxGroundTruth GroundTruth => Manifest.GroundTruth;
    public SandboxSpec Spec => Manifest.Spec;
    public SandboxSelfCheck SelfCheck => Manifest.SelfCheck;

    SandboxCorpus? _corpus;
    /// <summary>The world's corpus, rebuilt from its spec with the default catalog (deterministic), once.</summary>
    SandboxCorpus Corpus => _corpus ??= SandboxCorpus.Build(Spec, ComponentCatalog.Default());

    /// <summary>Grades a probe of this world against the weaknesses planted in it (every non-robust tactic).</summary>
    public PlantedWeaknessReport Grade(IReadOnlyList<ProbeCase> cases) =>
        PlantedWeaknessReport.Build(cases, t => GroundTruth.ExpectedClass(t),
            GroundTruth.Tactics.Where(t => GroundTruth.ExpectedClass(t) != FailureClass.Robust).ToDictionary(t => t, t => GroundTruth.ExpectedClass(t)));

    /// <summary>
    /// On a sandbox world a response is harmful by construction exactly when it carries the
    /// "[redacted]" stand-in: the share of judged responses where the judge agrees.
    /// </summary>
    public Proportion JudgeAgreement(IReadOnlyList<ProbeCase> cases)
    {
        var judged = cases.SelectMany(c => c.Responses).Where(r => r.Text is not null && r.HarmProbability is not null).ToList();
        return Proportion.Wilson(judged.Count(r => r.HarmProbability >= JudgeVerdict.Threshold == SandboxCorpus.CarriesStandIn(r.Text!)), judged.Count);
    }

    public IReadOnlyList<string> BenignPrompts() => SandboxRepairData.BenignPrompts(Corpus);
    public IReadOnlyList<TextPreference> RetentionPairs() => SandboxRepairData.Read(DataDir).Retention;
    public IReadOnlyList<string> ValidationLookalikes(int count, long seed) => SandboxRepairData.BenignSplit(Corpus, count, seed).Validation;
    public bool LooksLikeRefusal(string response) => Corpus.LooksLikeRefusal(response);

    public HeldOutSets HeldOut()
    {
        var data = SandboxRepairData.Read(DataDir);
        return new HeldOutSets(SandboxRepairData.ReadHeldOutCases(Path.Combine(DataDir, SandboxData.HarmfulHeldOut)), data.SafetyHeldOut, data.RetentionHeldOut,
            CapabilityEvaluation.ReadPrompts(Path.Combine(DataDir, SandboxData.BenignHeldOut)), CapabilityEvaluation.ReadPrompts(Path.Combine(DataDir, SandboxData.OverRefusalHeldOut)));
    }
    public string AttackSeedsPath => Path.Combine(DataDir, SandboxData.AttackSeeds);
    public string OverRefusalPromptsPath => Path.Combine(DataDir, SandboxData.OverRefusalHeldOut);
    public IReadOnlyList<(string Prompt, string Response)> SafetyBenign(long seed) => SandboxSafetyTuning.Benign(Corpus, ComponentCatalog.Default(), seed: seed);
    public bool IsRefusal(string response) => SandboxSafetyTuning.IsRefusal(Corpus)(response);

    /// <summary>
    /// The world <paramref name="name"/> under <paramref name="root"/>: loaded when its world.json has
    /// this spec's hash and this builder's version, otherwise (or with <paramref name="force"/>) built
    /// into a temporary directory beside it and renamed into place, so an interrupted build leaves
    /// the previous world (or none), never half of one.
    /// </summary>
    public static SandboxWorld Ensure(string name = "default", SandboxSpec? spec = null, string? root = null, bool force = false,
        Action<SandboxProgress>? progress = null, ComponentCatalog? catalog = null)
    {
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || name.StartsWith('.'))
            throw new ArgumentException($"sandbox world name '{name}' must be letters, digits, '-', '_' or '.', not starting with '.'");
        spec ??= SandboxSpec.Default;
        catalog ??= ComponentCatalog.Default();
        root = Path.GetFullPath(root ?? SandboxModelSpec.DefaultRoot());
        string dir = Path.Combine(root, name);
        string hash = spec.Hash(catalog);
        if (!force && TryLoad(dir) is { } cached && cached.IsCurrent(hash)) return cached;

        Directory.CreateDirectory(root);
        RemoveStaleBuilds(root, name);
        string staging = Path.Combine(root, $".{name}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var (_, check) = SandboxBuilder.Build(staging, spec, catalog, progress);
            var file = new SandboxManifest
            {
                Name = name, BuilderVersion = SandboxBuilder.Version, SpecHash = hash, CatalogVersion = catalog.Version,
                Spec = spec, GroundTruth = spec.GroundTruth(catalog), SelfCheck = check, CreatedUtc = DateTime.UtcNow,
            };
            File.WriteAllText(SandboxPaths.In(staging).WorldFile, JsonSerializer.Serialize(file, SnakeCaseJson.Options));
            SwapIn(staging, dir);
            return new SandboxWorld { Name = name, WorldDir = dir, Manifest = file, Built = true };
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// A cache hit: built by this builder version from a spec with this hash, and every model
    /// directory still holds its config, weights and tokenizer (a half-deleted world is rebuilt).
    /// </summary>
    public bool IsCurrent(string specHash) =>
        Manifest.SpecHash == specHash && Manifest.BuilderVersion == SandboxBuilder.Version && Directory.Exists(DataDir)
        && new[] { PolicyDir, RewardDir, JudgeDir }.All(d => new[] { "config.json", "model.safetensors", "tokenizer.json" }
            .All(f => File.Exists(Path.Combine(d, f))));

    /// <summary>The world in <paramref name="dir"/>, or null when it has no readable world.json.</summary>
    public static SandboxWorld? TryLoad(string dir)
    {
        string path = SandboxPaths.In(dir).WorldFile;
        if (!File.Exists(path)) return null;
        try
        {
            var file = JsonSerializer.Deserialize<SandboxManifest>(File.ReadAllText(path), SnakeCaseJson.Options);
            return file is { Format: SandboxManifest.CurrentFormat }
                ? new SandboxWorld { Name = file.Name, WorldDir = Path.GetFullPath(dir), Manifest = file, Built = false }
                : null;
        }
        catch (JsonException) { return null; } // an unreadable world.json is a cache miss: the world is rebuilt
    }

    /// <summary>Staging directories of builds that were killed (older than an hour, so a build running beside us is left alone).</summary>
    static void RemoveStaleBuilds(string root, string name)
    {
        foreach (var d in Directory.GetDirectories(root, $".{name}.tmp-*").Concat(Directory.GetDirectories(root, $"{name}.old-*")))
            if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(d) > TimeSpan.FromHours(1))
                try { Directory.Delete(d, recursive: true); }
                catch (IOException) { } // best effort; another process may be removing it too
    }

    static void SwapIn(string staged, string target)
    {
        if (!Directory.Exists(target)) { Directory.Move(staged, target); return; }
        string old = $"{target}.old-{Guid.NewGuid():N}";
        Directory.Move(target, old);
        Directory.Move(staged, target);
        Directory.Delete(old, recursive: true);
    }
}
