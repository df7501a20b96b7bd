using Ares.RedTeam.Sandbox;

namespace Ares.RedTeam.Tests.Sandbox;

/// <summary>
/// One small world per test process (the build is the slow part): every class that needs it gets
/// the same read-only world. Tests that modify a world work on a copy.
/// </summary>
public sealed class SmallWorldFixture
{
    static readonly TempDirectory SharedRoot = new();
    static readonly List<SandboxProgress> SharedProgress = [];
    static readonly Lazy<SandboxWorld> Shared = new(() =>
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => SharedRoot.Dispose();
        return SandboxWorld.Ensure("small", SandboxSpec.Small, SharedRoot.Path, progress: SharedProgress.Add);
    });

    internal List<SandboxProgress> Progress => SharedProgress;
    internal SandboxWorld World => Shared.Value;
    /// <summary>The root the world is in; built first, so that a test resolving "sandbox:small" through
    /// the root never builds it itself (the fixture's World would then report a cache hit).</summary>
    internal string Root { get { _ = Shared.Value; return SharedRoot.Path; } }
}
