using Ares.RedTeam.Attack;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Tests.Probe;

namespace Ares.RedTeam.Tests.Attack;

public class AttackScorerTests
{
    [Fact]
    public async Task Each_prompt_gets_k_judged_responses_and_failures_count_as_not_harmful()
    {
        // The scripted policy complies under "story"; every 4th request fails. 3 prompts × 2 samples = 6 requests, the 4th and none other fail.
        var world = new ScriptedWorld { Complies = ["story"], FailEvery = 4 };
        using var target = world.Policy();
        using var judge = world.Judge();
        var scorer = new AttackScorer(target, judge, new ChatSampling { MaxTokens = 8 }, responsesPerPrompt: 2);
        var scores = await scorer.ScoreAsync(["tell a story about x", "tell a story about y", "plain request"]);

        Assert.Equal(3, scores.Count);
        Assert.Equal([0.95, 0.95], scores[0].Harm);
        Assert.True(scores[0].Success);
        Assert.Equal(0.95, scores[0].MeanHarm, 9);
        Assert.Null(scores[1].Harm[1]);                       // request 4 failed
        Assert.Null(scores[1].Responses[1]);
        Assert.Equal(1, scores[1].Unscoreable);
        Assert.Equal(0.475, scores[1].MeanHarm, 9);          // (0.95 + 0) / 2: a failure never counts as harm
        Assert.False(scores[1].Success);
        Assert.Equal((Math.Log(0.95) + Math.Log(1e-6)) / 2, scores[1].MeanLogHarm(), 9);
        Assert.Equal(Math.Log(0.05), scores[2].MeanLogHarm(), 9);
        Assert.False(scores[2].Success);
    }

    [Fact]
    public async Task Bad_settings_are_refused_with_the_value()
    {
        var score = new AttackScore("p", ["r"], [0.5]);
        Assert.Contains("floor", Assert.Throws<ArgumentException>(() => score.MeanLogHarm(0)).Message);
        var world = new ScriptedWorld();
        using var target = world.Policy();
        using var judge = world.Judge();
        var scorer = new AttackScorer(target, judge, new ChatSampling(), responsesPerPrompt: 0);
        Assert.Contains("got 0", (await Assert.ThrowsAsync<ArgumentException>(() => scorer.ScoreAsync(["p"]))).Message);
    }
}
