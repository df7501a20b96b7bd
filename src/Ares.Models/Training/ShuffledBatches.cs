namespace Ares.Models.Training;

/// <summary>Draws batches from a data set in passes, reshuffled each pass (seeded), as the trainers share.</summary>
internal sealed class ShuffledBatches<T>(IReadOnlyList<T> data, long seed)
{
    readonly Random _rng = new(unchecked((int)seed));
    readonly Queue<int> _order = new();

    public List<T> Next(int count)
    {
        var batch = new List<T>(count);
        while (batch.Count < count)
        {
            if (_order.Count == 0)
            {
                var pass = Enumerable.Range(0, data.Count).ToArray();
                _rng.Shuffle(pass);
                foreach (int i in pass) _order.Enqueue(i);
            }
            batch.Add(data[_order.Dequeue()]);
        }
        return batch;
    }
}
