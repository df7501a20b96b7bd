using Ares.Core.Tokenization;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Rewards;

namespace Ares.RedTeam.Probe;

/// <summary>Where a run stands, for progress bars.</summary>
internal sealed record ProbeProgress(int Completed, int Budget, IReadOnlyDictionary<FailureClass, int> Counts, int MentorFailures);

/// <summary>
/// Runs discovery: for each planned case, the selector picks a tuple, the mentor writes the case,
/// the policy answers k times, the judge scores every answer, the RM scores every answer plus the
/// malicious and safe references, and the taxonomy classifies the case.
/// Responsible for: orchestration and accounting. Does not own: persistence (the caller's
/// <c>save</c> does it, one case at a time, so a killed run loses at most the cases in flight).
/// </summary>
internal sealed class Prober(ComponentCatalog catalog, ISafetyMentor mentor, IChatModel policy, IRewardModel rewardModel, IJudge judge, ProbeOptions options)
{
    readonly ITupleSelector _selector = TupleSelectors.Create(catalog, options.Selector);

    /// <summary>
    /// Completes the run: plans every index in [0, Budget) not in <paramref name="completed"/>,
    /// hands each finished case to <paramref name="save"/> and returns all cases in index order.
    /// </summary>
    public async Task<IReadOnlyList<ProbeCase>> RunAsync(IReadOnlyList<ProbeCase> completed, Action<ProbeCase> save,
        IProgress<ProbeProgress>? progress = null, CancellationToken ct = default)
    {
        options.Validate();
        var done = completed.ToDictionary(c => c.Index);
        if (done.Keys.Any(i => i < 0 || i >= options.Budget))
            throw new InvalidOperationException($"the run already has cases outside [0, {options.Budget}); was the budget lowered?");
        Report(done, progress);
        for (var start = 0; start < options.Budget; start += options.BatchSize)
        {
            ct.ThrowIfCancellationRequested();
            var end = Math.Min(options.Budget, start + options.BatchSize);
            var missing = Enumerable.Range(start, end - start).Where(i => !done.ContainsKey(i)).ToList();
            if (missing.Count == 0) continue;
            var history = done.Values.Where(c => c.Index < start).OrderBy(c => c.Index).ToList();
            var tuples = _selector.Select(missing, history, options.Seed);
            foreach (var c in await ProbeBatchAsync(missing, tuples, Seeds.Derive(options.Seed, start), ct))
            {
                save(c);
                done[c.Index] = c;
                Report(done, progress);
            }
        }
        return done.Values.OrderBy(c => c.Index).ToList();
    }

    /// <summary>
    /// Probes fixed, already written cases (e.g. a held-out evaluation set) without the selector or
    /// the mentor: answers, judge, RM and class for each, in batches. Indices are positions in the list.
    /// </summary>
    public async Task<IReadOnlyList<ProbeCase>> EvaluateAsync(IReadOnlyList<MentorCase> cases, IProgress<ProbeProgress>? progress = null, CancellationToken ct = default)
    {
        options.Validate();
        var done = new Dictionary<int, ProbeCase>();
        for (var start = 0; start < cases.Count; start += options.BatchSize)
        {
            var indices = Enumerable.Range(start, Math.Min(options.BatchSize, cases.Count - start)).ToList();
            var outcomes = indices.Select(i => MentorOutcome.Composed(cases[i])).ToArray();
            var seeds = indices.Select(i => Seeds.Derive(options.Seed, i)).ToList();
            foreach (var c in await ClassifyBatchAsync(indices, indices.Select(i => cases[i].Components).ToList(), seeds, outcomes, Seeds.Derive(options.Seed, start), ct))
            {
                done[c.Index] = c;
                Report(done, progress, cases.Count);
            }
        }
        return done.Values.OrderBy(c => c.Index).ToList();
    }

    async Task<List<ProbeCase>> ProbeBatchAsync(IReadOnlyList<int> indices, IReadOnlyList<ComponentTuple> tuples, long batchSeed, CancellationToken ct)
    {
        var seeds = indices.Select(i => Seeds.Derive(options.Seed, i)).ToList();
        var outcomes = await Task.WhenAll(indices.Select((_, j) => mentor.ComposeAsync(tuples[j], seeds[j], ct)));
        return await ClassifyBatchAsync(indices, tuples, seeds, outcomes, batchSeed, ct);
    }

    async Task<List<ProbeCase>> ClassifyBatchAsync(IReadOnlyList<int> indices, IReadOnlyList<ComponentTuple> tuples, IReadOnlyList<long> seeds,
        IReadOnlyList<MentorOutcome> outcomes, long batchSeed, CancellationToken ct)
    {
        var composed = Enumerable.Range(0, indices.Count).Where(j => outcomes[j].Case is not null).ToList();

        var conversations = composed.Select(j => (IReadOnlyList<ChatMessage>)[new ChatMessage("user", outcomes[j].Case!.Prompt)]).ToList();
        var answers = conversations.Count == 0 ? [] : await policy.CompleteAsync(conversations, options.Sampling with { Seed = batchSeed }, options.Samples, ct);
        Check(answers.Count == composed.Count && answers.All(a => a.Count == options.Samples), "the policy", "conversations × samples results");

        // One judge call and one RM call for the whole batch: answered responses, then the references.
        var judged = new List<Exchange>();
        var scored = new List<Exchange>();
        for (var n = 0; n < composed.Count; n++)
        {
            var mc = outcomes[composed[n]].Case!;
            foreach (var a in answers[n].Where(a => a.Ok)) { judged.Add(new Exchange(mc.Prompt, a.Text!)); scored.Add(new Exchange(mc.Prompt, a.Text!)); }
            scored.Add(new Exchange(mc.Prompt, mc.MaliciousResponse));
            scored.Add(new Exchange(mc.Prompt, mc.SafeResponse));
        }
        var verdicts = judged.Count == 0 ? [] : await judge.JudgeAsync(judged, ct);
        Check(verdicts.Count == judged.Count, "the judge", "one verdict per response");
        var rewards = scored.Count == 0 ? [] : rewardModel.Score(scored);
        Check(rewards.Count == scored.Count, "the reward model", "one score per exchange");

        var cases = new List<ProbeCase>();
        int v = 0, r = 0, next = 0;
        for (var j = 0; j < indices.Count; j++)
        {
            var o = outcomes[j];
            var now = DateTime.UtcNow;
            if (o.Case is null)
            {
                cases.Add(new ProbeCase { Index = indices[j], Components = tuples[j], Seed = seeds[j], MentorFailure = o.Failure, MentorAttempts = o.Attempts, CreatedUtc = now });
                continue;
            }
            var responses = new List<ProbeResponse>();
            foreach (var (a, s) in answers[next++].Select((a, s) => (a, s)))
            {
                if (!a.Ok) { responses.Add(new ProbeResponse(s, null, null, a.Error, null, null, null)); continue; }
                var verdict = verdicts[v++];
                responses.Add(new ProbeResponse(s, a.Text, a.FinishReason, null, verdict.HarmProbability, verdict.Rationale, Known(rewards[r++])));
            }
            double? malicious = Known(rewards[r++]), safe = Known(rewards[r++]);
            // An endpoint reward model scores a request that failed after retries as NaN: stored as
            // a missing reward, and the case is unscored (never classified on a partial set of rewards).
            bool rewardFailed = malicious is null || safe is null || responses.Any(x => x.Error is null && x.Reward is null);
            cases.Add(new ProbeCase
            {
                Index = indices[j], Components = tuples[j], Seed = seeds[j], Case = o.Case, MentorAttempts = o.Attempts,
                Responses = responses, RewardMalicious = malicious, RewardSafe = safe,
                Class = rewardFailed ? FailureClass.Unscored : Taxonomy.Classify(responses, malicious, safe, options.RewardMargin), CreatedUtc = now,
            });
        }
        return cases;
    }

    void Report(Dictionary<int, ProbeCase> done, IProgress<ProbeProgress>? progress, int? total = null)
    {
        if (progress is null) return;
        var counts = Enum.GetValues<FailureClass>().ToDictionary(c => c, c => done.Values.Count(x => x.Class == c));
        progress.Report(new ProbeProgress(done.Count, total ?? options.Budget, counts, done.Values.Count(x => x.Class is null)));
    }

    static double? Known(double reward) => double.IsNaN(reward) ? null : reward;

    static void Check(bool ok, string who, string expected)
    {
        if (!ok) throw new InvalidOperationException($"{who} returned the wrong number of results (expected {expected})");
    }
}
