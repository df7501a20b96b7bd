namespace Ares.Foundation;

/// <summary>
/// Derives independent, process-stable seeds (string.GetHashCode and HashCode.Combine are
/// randomised per process, which would break resumed and repeated runs).
/// </summary>
internal static class Seeds
{
    /// <summary>SplitMix64 over the seed and each part in turn.</summary>
    public static long Derive(long seed, params long[] parts)
    {
        var x = unchecked((ulong)seed);
        foreach (var p in parts.Prepend(0x0A4E5L))
        {
            x = unchecked(x ^ (ulong)p) + 0x9E3779B97F4A7C15UL;
            x = unchecked((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL);
            x = unchecked((x ^ (x >> 27)) * 0x94D049BB133111EBUL);
            x ^= x >> 31;
        }
        return unchecked((long)x);
    }

    /// <summary>A Random seeded from <see cref="Derive"/>.</summary>
    public static Random Rng(long seed, params long[] parts) => new(unchecked((int)Derive(seed, parts)));
}
