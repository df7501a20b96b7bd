using System.Runtime.CompilerServices;

// Test classes run one at a time: they train and sample sandbox models, and in parallel they fight
// for the machine's 2 cores. (The native "Unknown scalar type" crashes once blamed on parallel classes
// were TorchSharp Scalars freed mid-op by the GC; see Ares.Models.Nn.ScalarOps.)
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
