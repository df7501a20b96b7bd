namespace Ares.Foundation;

/// <summary>A proportion with its Wilson score interval (95% by default): honest for small n and for 0 or n successes.</summary>
internal readonly record struct Proportion(int Successes, int Trials, double Low, double High)
{
    public double Rate => Trials == 0 ? double.NaN : (double)Successes / Trials;

    public static Proportion Wilson(int successes, int trials, double z = 1.959963984540054)
    {
        if (trials < 0 || successes < 0 || successes > trials) throw new ArgumentOutOfRangeException(nameof(successes), $"need 0 ≤ successes ({successes}) ≤ trials ({trials})");
        if (trials == 0) return new(0, 0, 0, 1);
        double n = trials, p = successes / n, z2 = z * z;
        var centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        var half = z / (1 + z2 / n) * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        return new(successes, trials, Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    public override string ToString() => Trials == 0 ? "– (0 cases)" : $"{Rate:P1} [{Low:P1}, {High:P1}] ({Successes}/{Trials})";
}
