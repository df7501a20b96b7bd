using System.Reflection;

namespace Ares.Foundation;

/// <summary>The Ares release every stored row and report names (the assemblies' informational version).</summary>
internal static class AresRelease
{
    public static string Version { get; } =
        typeof(AresRelease).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
