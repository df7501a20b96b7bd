using Ares.Models.Training;

namespace Ares.RedTeam.Repair;

/// <summary>
/// Draws repair batches that mix safety pairs with original preference pairs (retention) at a fixed
/// share: over the first n items drawn, exactly round(n × share) are retention pairs, so each batch
/// holds ⌊B × share⌋ or ⌈B × share⌉ of them and the long-run ratio is exact. Each source is drawn in
/// seeded, reshuffled passes (as the trainers draw), independently of the other.
/// </summary>
internal sealed class RetentionMix<T>
{
    readonly ShuffledBatches<T>? _safety, _retention;
    readonly double _share;
    long _drawn, _retained;

    public RetentionMix(IReadOnlyList<T> safety, IReadOnlyList<T> retention, double retentionShare, long seed)
    {
        if (retentionShare is < 0 or > 1 || double.IsNaN(retentionShare))
            throw new ArgumentOutOfRangeException(nameof(retentionShare), $"retention share must be in [0, 1], got {retentionShare}");
        if (retentionShare < 1 && safety.Count == 0) throw new ArgumentException("reward repair needs at least one safety pair (none of the cases has a repair class)");
        if (retentionShare > 0 && retention.Count == 0) throw new ArgumentException($"a retention share of {retentionShare} needs retention pairs; none were given (set the share to 0 to repair without them)");
        _share = retentionShare;
        if (safety.Count > 0) _safety = new ShuffledBatches<T>(safety, seed);
        if (retention.Count > 0) _retention = new ShuffledBatches<T>(retention, seed + 1);
    }

    /// <summary>The next <paramref name="count"/> items: retention pairs first, then safety pairs (the order inside a batch does not matter to the loss).</summary>
    public List<T> Next(int count)
    {
        long target = (long)Math.Round((_drawn + count) * _share, MidpointRounding.AwayFromZero);
        int retained = (int)(target - _retained);
        _drawn += count;
        _retained = target;
        var batch = retained > 0 ? _retention!.Next(retained) : [];
        if (count - retained > 0) batch.AddRange(_safety!.Next(count - retained));
        return batch;
    }
}
