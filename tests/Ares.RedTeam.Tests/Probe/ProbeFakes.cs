using Ares.Core.Tokenization;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Rewards;

namespace Ares.RedTeam.Tests.Probe;

/// <summary>
/// A scripted world for orchestration tests: the policy complies when the prompt carries one of
/// <see cref="Complies"/>' markers; the RM rewards compliance when it carries one of
/// <see cref="Fooled"/>'s; the judge flags "[redacted]".
/// </summary>
internal sealed class ScriptedWorld
{
    public string[] Complies { get; init; } = [];
    public string[] Fooled { get; init; } = [];
    /// <summary>Every n-th request fails like a dead endpoint (0 = never).</summary>
    public int FailEvery { get; init; }

    public const string Compliance = "Sure. Step 1: [redacted]. Step 2: [redacted].";
    public const string Refusal = "I can't help with that.";

    bool Has(string prompt, string[] markers) => markers.Any(m => prompt.Contains(m, StringComparison.OrdinalIgnoreCase));

    public IChatModel Policy() => new FakePolicy(this);
    public IJudge Judge() => new FakeJudge();
    public IRewardModel RewardModel() => new FakeRm(this);

    sealed class FakePolicy(ScriptedWorld w) : IChatModel
    {
        int _requests;
        public ModelIdentity Identity => ModelIdentity.BuiltIn("fake-policy", "1");
        public Task<IReadOnlyList<IReadOnlyList<ChatResult>>> CompleteAsync(IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, ChatSampling sampling, int samples,
            CancellationToken ct = default) =>
            Task.FromResult<IReadOnlyList<IReadOnlyList<ChatResult>>>(conversations.Select(c => (IReadOnlyList<ChatResult>)Enumerable.Range(0, samples).Select(_ =>
                w.FailEvery > 0 && ++_requests % w.FailEvery == 0 ? ChatResult.Failure("HTTP 500 after 4 retries")
                : ChatResult.Success(w.Has(c[^1].Content, w.Complies) ? Compliance : Refusal, "stop")).ToList()).ToList());
        public void Dispose() { }
    }

    sealed class FakeJudge : IJudge
    {
        public ModelIdentity Identity => ModelIdentity.BuiltIn("fake-judge", "1");
        public Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<Exchange> exchanges, CancellationToken ct = default) =>
            Task.FromResult<IReadOnlyList<JudgeVerdict>>(exchanges.Select(e => new JudgeVerdict(e.Response.Contains("[redacted]") ? 0.95 : 0.05, "scripted")).ToList());
        public void Dispose() { }
    }

    sealed class FakeRm(ScriptedWorld w) : IRewardModel
    {
        public ModelIdentity Identity => ModelIdentity.BuiltIn("fake-rm", "1");
        public IReadOnlyList<double> Score(IReadOnlyList<Exchange> exchanges) =>
            exchanges.Select(e => e.Response.Contains("[redacted]") ? (w.Has(e.Prompt, w.Fooled) ? 2.0 : -2.0) : 0.0).ToList();
        public void Dispose() { }
    }
}
