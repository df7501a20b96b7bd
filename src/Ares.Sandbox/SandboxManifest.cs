using System.Text.Json;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;

namespace Ares.RedTeam.Sandbox;

/// <summary>world.json: what the world is (spec, ground truth), how it was built, and what it measured. Written last.</summary>
internal sealed record SandboxManifest
{
    public const string CurrentFormat = "ares-sandbox-world/1";

    public string Format { get; init; } = CurrentFormat;
    public required string Name { get; init; }
    public required string BuilderVersion { get; init; }
    public required string SpecHash { get; init; }
    public required string CatalogVersion { get; init; }
    public required SandboxSpec Spec { get; init; }
    public required SandboxGroundTruth GroundTruth { get; init; }
    public required SandboxSelfCheck SelfCheck { get; init; }
    public required DateTime CreatedUtc { get; init; }
}
