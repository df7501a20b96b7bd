using System.Threading.Channels;
using Ares.Core.Tokenization;
using Ares.RedTeam.Chat;

namespace Ares.Cli.Serve;

/// <summary>
/// Turns concurrent chat requests into batched forwards of one <see cref="LocalChatModel"/>. One
/// worker owns the model (generation is not thread-safe); it takes every request queued within
/// <see cref="GatherWindow"/> of the first and runs those with the same sampling settings and
/// sample count as one <see cref="LocalChatModel.Complete"/> call (the model chunks rows into
/// forwards of its max batch size). A request with a seed runs alone, so its output depends on
/// its seed only, never on what else was queued. A request cancelled while queued is dropped
/// before it costs a forward.
/// </summary>
internal sealed class GenerationBatcher : IAsyncDisposable
{
    sealed record Job(IReadOnlyList<ChatMessage> Conversation, ChatSampling Sampling, int Samples,
        TaskCompletionSource<IReadOnlyList<ChatResult>> Done, CancellationToken Ct);

    readonly LocalChatModel _model;
    readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    readonly Task _worker;
    long _calls, _dropped, _largestBatch;

    public GenerationBatcher(LocalChatModel model, TimeSpan? gatherWindow = null)
    {
        _model = model;
        GatherWindow = gatherWindow ?? TimeSpan.FromMilliseconds(5);
        _worker = Task.Run(WorkAsync);
    }

    /// <summary>How long the worker waits after the first queued request for others to join its batch.</summary>
    public TimeSpan GatherWindow { get; }

    /// <summary>Model calls made (each one batched generation over its requests).</summary>
    public long Calls => Interlocked.Read(ref _calls);
    /// <summary>Requests dropped because their caller cancelled while they were queued.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>The most requests one model call has served.</summary>
    public long LargestBatch => Interlocked.Read(ref _largestBatch);

    /// <summary>result[j] is sample j. Completes with the failure results (e.g. too long for the context) as the model returns them.</summary>
    public Task<IReadOnlyList<ChatResult>> SubmitAsync(IReadOnlyList<ChatMessage> conversation, ChatSampling sampling, int samples, CancellationToken ct)
    {
        var done = new TaskCompletionSource<IReadOnlyList<ChatResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Job(conversation, sampling, samples, done, ct)))
            done.SetException(new ObjectDisposedException(nameof(GenerationBatcher), "the server is shutting down"));
        return done.Task;
    }

    async Task WorkAsync()
    {
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await Task.Delay(GatherWindow).ConfigureAwait(false);
            var jobs = new List<Job>();
            while (_queue.Reader.TryRead(out var job))
            {
                if (job.Ct.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _dropped);
                    job.Done.TrySetCanceled(job.Ct);
                }
                else jobs.Add(job);
            }
            var groups = jobs.GroupBy(j => j.Sampling.Seed is null ? (object)(j.Sampling, j.Samples) : j);
            foreach (var group in groups)
            {
                var batch = group.ToList();
                if (batch.All(j => j.Ct.IsCancellationRequested))
                {
                    foreach (var j in batch) { Interlocked.Increment(ref _dropped); j.Done.TrySetCanceled(j.Ct); }
                    continue;
                }
                try
                {
                    var results = _model.Complete(batch.Select(j => j.Conversation).ToList(), batch[0].Sampling, batch[0].Samples);
                    Interlocked.Increment(ref _calls);
                    for (long seen = Interlocked.Read(ref _largestBatch); batch.Count > seen; seen = Interlocked.Read(ref _largestBatch))
                        if (Interlocked.CompareExchange(ref _largestBatch, batch.Count, seen) == seen) break;
                    for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(results[i]);
                }
                catch (Exception e)
                {
                    foreach (var j in batch) j.Done.TrySetException(e);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _worker.ConfigureAwait(false);
    }
}
