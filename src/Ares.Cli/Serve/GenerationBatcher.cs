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
/// before it costs a forward; a model call whose requests have all been cancelled stops at the
/// next token. A request may watch its text grow token by token (streaming).
/// </summary>
internal sealed class GenerationBatcher : IAsyncDisposable
{
    sealed record Job(IReadOnlyList<ChatMessage> Conversation, ChatSampling Sampling, int Samples,
        TaskCompletionSource<IReadOnlyList<ChatResult>> Done, CancellationToken Ct, Action<int, string>? OnText);

    readonly LocalChatModel _model;
    readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    readonly Task _worker;
    long _calls, _dropped, _aborted, _largestBatch;

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
    /// <summary>Model calls stopped part-way because every request in them was cancelled.</summary>
    public long Aborted => Interlocked.Read(ref _aborted);
    /// <summary>The most requests one model call has served.</summary>
    public long LargestBatch => Interlocked.Read(ref _largestBatch);

    /// <summary>
    /// result[j] is sample j. Completes with the failure results (e.g. too long for the context) as the model returns them.
    /// <paramref name="onText"/>, when given, gets (sample, text so far) on the worker thread after each generated token; it must not block.
    /// </summary>
    public Task<IReadOnlyList<ChatResult>> SubmitAsync(IReadOnlyList<ChatMessage> conversation, ChatSampling sampling, int samples, CancellationToken ct,
        Action<int, string>? onText = null)
    {
        var done = new TaskCompletionSource<IReadOnlyList<ChatResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Job(conversation, sampling, samples, done, ct, onText)))
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
                // Cancelled once every request of the batch is: nobody is left to read the tokens.
                using var allGone = new CancellationTokenSource();
                var left = batch.Count;
                var registrations = batch.Select(j => j.Ct.Register(() => { if (Interlocked.Decrement(ref left) == 0) allGone.Cancel(); })).ToList();
                try
                {
                    var results = _model.Complete(batch.Select(j => j.Conversation).ToList(), batch[0].Sampling, batch[0].Samples, allGone.Token,
                        batch.Any(j => j.OnText is not null) ? (i, sample, text) => batch[i].OnText?.Invoke(sample, text) : null); // decoding per token only for streams
                    Interlocked.Increment(ref _calls);
                    for (long seen = Interlocked.Read(ref _largestBatch); batch.Count > seen; seen = Interlocked.Read(ref _largestBatch))
                        if (Interlocked.CompareExchange(ref _largestBatch, batch.Count, seen) == seen) break;
                    for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(results[i]);
                }
                catch (OperationCanceledException) when (allGone.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _aborted);
                    foreach (var j in batch) j.Done.TrySetCanceled(j.Ct);
                }
                catch (Exception e)
                {
                    foreach (var j in batch) j.Done.TrySetException(e);
                }
                finally
                {
                    foreach (var r in registrations) r.Dispose();
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
