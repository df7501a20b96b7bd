using System.Runtime.CompilerServices;

// Test classes run one at a time: with the attack and selector tests added, libtorch crashed natively
// ("Unknown scalar type" in AdamW.step / RmsNorm) in PolicyRepairTests while other classes trained
// models in parallel (seen once in CI, not root-caused). Serial classes also stop them fighting for 2 cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Ares.RedTeam.Tests.Sandbox;

internal static class SandboxTestSetup
{
    /// <summary>
    /// One intra-op thread for this test assembly: the sandbox's models are so small that libtorch's
    /// thread hand-offs cost more than they save on a busy 2-core machine (the small build ran 2× slower with 2).
    /// </summary>
    [ModuleInitializer]
    internal static void SingleThreaded() => TorchSharp.torch.set_num_threads(1);
}
