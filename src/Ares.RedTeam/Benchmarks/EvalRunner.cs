using System.Security.Cryptography;
using Ares.Core.Tokenization;
using Ares.Models.Loading;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Benchmarks;

/// <summary>What a finished eval produced: the run, the benchmark, and the rates read back from the store.</summary>
internal sealed record EvalRunResult(RunInfo Run, string StorePath, BenchmarkSet Benchmark, int Items, string JudgeKind, EvalReport Report);

/// <summary>
/// Runs (or resumes) `ares eval`: the policy answers each benchmark prompt k times, the judge scores
/// every answer, and each batch of items is saved in one transaction, so a run killed at any point
/// resumes by redoing whole batches with the same seeds. The rates are computed from the store.
/// </summary>
internal static class EvalRunner
{
    /// <summary>The run's reward-model and mentor slots: an eval has neither.</summary>
    static readonly ModelIdentity None = ModelIdentity.BuiltIn("none", "0");

    public static EvalRunResult Run(EvalConfig config, bool resume, Func<string, IModelWorld> sandbox, IProgress<int>? progress = null, CancellationToken ct = default)
    {
        var benchmark = BenchmarkFile.Load(config.BenchmarkPath);
        var items = config.Limit is int n ? benchmark.Items.Take(n).ToList() : benchmark.Items.ToList();
        string benchmarkVersion = $"{BenchmarkSet.Name(benchmark.Format)} sha256:{Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(config.BenchmarkPath)))[..16]}";

        Directory.CreateDirectory(Path.GetDirectoryName(config.StorePath)!);
        using var store = RunStore.Open(config.StorePath);
        var existing = store.RunToContinue(config.StorePath, config.RunId, resume, config.Source, config.NormalisedJson);
        if (existing is not null && existing.CatalogVersion != benchmarkVersion)
            throw new InvalidOperationException($"{config.BenchmarkPath} has changed since run '{config.RunId}' started ({existing.CatalogVersion} → {benchmarkVersion}); start a new run");

        var worlds = new Dictionary<string, IModelWorld>();
        IModelWorld World(string name) => worlds.TryGetValue(name, out var w) ? w : worlds[name] = sandbox(name);
        using var policy = ProbeComponents.Chat(config.Policy, World, w => w.PolicyDir);
        using var judge = CreateJudge(config.Judge, World);
        var run = existing ?? new RunInfo
        {
            RunId = config.RunId,
            Kind = RunStore.EvalKind,
            ConfigJson = config.NormalisedJson,
            Seed = config.Seed,
            AresVersion = AresRelease.Version,
            Policy = policy.Identity,
            RewardModel = None,
            Judge = judge.Identity,
            Mentor = None,
            CatalogVersion = benchmarkVersion,
            Budget = items.Count,
            CreatedUtc = DateTime.UtcNow,
        };
        if (existing is null) store.CreateRun(run);
        else
            foreach (var (role, stored, now) in new[] { ("policy", existing.Policy, policy.Identity), ("judge", existing.Judge, judge.Identity) })
                if (stored != now) throw new InvalidOperationException($"run '{run.RunId}': the {role} has changed since the run started ({stored} → {now}); start a new run");
        store.SetStatus(run.RunId, "running");

        var done = store.CompletedEvalItems(run.RunId).ToHashSet();
        progress?.Report(done.Count);
        // Batches are fixed slices of the item list, so batch b always holds the same items and draws from Seed + b.
        for (int start = 0, b = 0; start < items.Count; start += config.Batch, b++)
        {
            ct.ThrowIfCancellationRequested();
            var batch = Enumerable.Range(start, Math.Min(config.Batch, items.Count - start)).Where(i => !done.Contains(i)).ToList();
            if (batch.Count == 0) continue;
            var records = AnswerAndJudgeAsync(policy, judge, batch.Select(i => (i, items[i])).ToList(),
                config.Sampling with { Seed = config.Seed + b }, config.Samples, ct).GetAwaiter().GetResult();
            store.SaveEvalBatch(run.RunId, records);
            foreach (var i in batch) done.Add(i);
            progress?.Report(done.Count);
        }
        store.SetStatus(run.RunId, "complete");
        var report = EvalReport.Build(store.LoadEvalRecords(run.RunId), judge.Kind);
        return new EvalRunResult(store.GetRun(run.RunId)!, config.StorePath, benchmark, items.Count, judge.Kind, report);
    }

    /// <summary>
    /// One batch: k policy samples per item, then one judge call over every response that came back.
    /// A failed policy request is an unscored record with the error, never a missing one.
    /// </summary>
    internal static async Task<IReadOnlyList<EvalRecord>> AnswerAndJudgeAsync(IChatModel policy, IBenchmarkJudge judge,
        IReadOnlyList<(int Index, BenchmarkItem Item)> batch, ChatSampling sampling, int samples, CancellationToken ct)
    {
        var conversations = batch.Select(x => (IReadOnlyList<ChatMessage>)[new ChatMessage("user", x.Item.Prompt)]).ToList();
        var answers = await policy.CompleteAsync(conversations, sampling, samples, ct).ConfigureAwait(false);
        var answered = new List<(int Row, int Sample, ChatResult Result)>();
        for (int row = 0; row < batch.Count; row++)
            for (int s = 0; s < samples; s++)
                answered.Add((row, s, s < answers[row].Count ? answers[row][s] : ChatResult.Failure("the policy returned fewer samples than asked")));
        var judged = answered.Where(a => a.Result.Ok).ToList();
        var verdicts = await judge.JudgeAsync(judged.Select(a => new BenchmarkExchange(batch[a.Row].Item, a.Result.Text ?? "")).ToList(), ct).ConfigureAwait(false);
        var verdictOf = judged.Select((a, j) => (Key: (a.Row, a.Sample), Verdict: verdicts[j])).ToDictionary(x => x.Key, x => x.Verdict);
        var now = DateTime.UtcNow;
        return answered.Select(a =>
        {
            var item = batch[a.Row].Item;
            var v = a.Result.Ok ? verdictOf[(a.Row, a.Sample)] : BenchmarkVerdict.Unscored($"policy request failed: {a.Result.Error}");
            return new EvalRecord
            {
                ItemIndex = batch[a.Row].Index,
                Sample = a.Sample,
                ItemId = item.Id,
                Category = item.Category,
                Label = item.Label,
                Prompt = item.Prompt,
                Text = a.Result.Ok ? a.Result.Text ?? "" : null,
                FinishReason = a.Result.FinishReason,
                Error = a.Result.Ok ? null : a.Result.Error ?? "unknown error",
                Outcome = v.Outcome,
                Score = v.Score,
                JudgeClass = v.Class,
                Rationale = v.Rationale,
                CreatedUtc = now,
            };
        }).ToList();
    }

    /// <summary>The judge a spec names. LLM judges on a sandbox world use its policy model; a classifier uses its judge.</summary>
    internal static IBenchmarkJudge CreateJudge(EvalJudgeSpec spec, Func<string, IModelWorld> world)
    {
        IChatModel Chat() => ProbeComponents.Chat(spec.Model!, world, w => w.PolicyDir);
        return spec switch
        {
            { Kind: "strongreject" } => new StrongRejectJudge(Chat(), spec.MaxTokens),
            { Kind: "harmbench" } => new HarmBenchJudge(Chat(), spec.MaxTokens),
            { Kind: "xstest", Model: null } => new XSTestJudge(null),
            { Kind: "xstest" } => new XSTestJudge(Chat(), spec.MaxTokens),
            { Kind: "refusal" } => new HarmJudgeAdapter(new RefusalJudge(), "refusal"),
            { Kind: "classifier", Model: SandboxModelSpec s } => new HarmJudgeAdapter(ClassifierJudge.Load(world(s.World).JudgeDir), "classifier"),
            { Kind: "classifier", Model: LocalModelSpec l } => new HarmJudgeAdapter(ClassifierJudge.Load(l.Path, new LoadOptions { ChatFormat = l.ChatFormat }), "classifier"),
            { Kind: "guard", Model: LocalModelSpec l } => new HarmJudgeAdapter(LocalGuardJudge.Load(l.Path, new LoadOptions { ChatFormat = l.ChatFormat }), "guard"),
            { Kind: "guard" } => new HarmJudgeAdapter(new ChatGuardJudge(Chat(), maxTokens: spec.MaxTokens), "guard"),
            _ => throw new ArgumentException($"judge {spec.Kind} cannot use {spec.Model}"),
        };
    }
}
