namespace Ares.Foundation.Tests;

public class ProportionTests
{
    [Theory]
    // Hand-computed Wilson 95% intervals (z = 1.96).
    [InlineData(0, 10, 0.0, 0.2775)]
    [InlineData(5, 10, 0.2366, 0.7634)]
    [InlineData(10, 10, 0.7225, 1.0)]
    [InlineData(1, 4, 0.0456, 0.6994)]
    public void Wilson_intervals_match_hand_computed_values(int k, int n, double low, double high)
    {
        var p = Proportion.Wilson(k, n);
        Assert.Equal(low, p.Low, 3);
        Assert.Equal(high, p.High, 3);
        Assert.Equal((double)k / n, p.Rate, 12);
    }

    [Fact]
    public void No_trials_is_the_whole_interval_and_bad_counts_are_refused()
    {
        Assert.Equal(new Proportion(0, 0, 0, 1), Proportion.Wilson(0, 0));
        Assert.True(double.IsNaN(Proportion.Wilson(0, 0).Rate));
        Assert.Throws<ArgumentOutOfRangeException>(() => Proportion.Wilson(3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Proportion.Wilson(-1, 2));
    }
}
