using Ares.RedTeam.Attack;

namespace Ares.RedTeam.Tests.Attack;

public class AttackConfigTests
{
    static string Example()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "examples", "attack-sandbox.json"))) return Path.Combine(dir.FullName, "examples", "attack-sandbox.json");
        throw new DirectoryNotFoundException("examples/attack-sandbox.json not found above the test folder");
    }

    [Fact]
    public void The_shipped_sandbox_example_parses_into_the_paper_settings_it_names()
    {
        var c = AttackConfig.Load(Example());
        Assert.Equal("default", c.Sandbox);
        Assert.EndsWith(Path.Combine("runs", "attack-sandbox"), c.OutDir);
        Assert.Equal(40, c.Gfn.Training.MaxSteps);
        Assert.Equal(40, c.Reinforce.Training.MaxSteps);                                   // same step budget
        Assert.Equal(8, c.Reinforce.Training.BatchSize * c.Reinforce.Training.CompletionsPerPrompt);   // same prompts per step
        Assert.Equal(0.1, c.Gfn.Training.Beta);
        Assert.Equal((1.0, 1.2), (c.Gfn.Training.GammaStart, c.Gfn.Training.GammaEnd));
        Assert.Equal((2.0, 1.0), (c.Gfn.Training.RewardTemperatureStart, c.Gfn.Training.RewardTemperatureEnd));
        Assert.Equal(0.95, c.Gfn.Training.BufferSimilarity);   // mean-pooled LM states are far more alike than sentence embeddings
        Assert.Equal(2, c.ResponsesPerPrompt);
        Assert.Equal(0.7, c.Smoothing.MinHarm);
        c.Gfn.Training.Validate();
        c.Reinforce.Training.Validate();
    }

    [Theory]
    [InlineData("""{ "out": "o", "sandbox": "default", "train": { "stepz": 3 } }""", "unknown field 'train.stepz'")]
    [InlineData("""{ "out": "o", "sandbox": "default", "reward": { "beta": -1 } }""", "field 'reward.beta' must be a number")]
    [InlineData("""{ "out": "o", "sandbox": "default", "exploration": { "replay_probability": 2 } }""", "exploration.replay_probability")]
    [InlineData("""{ "out": "o", "sandbox": "default", "prompts": { "min_tokens": 9, "max_tokens": 4 } }""", "GflowNetConfig.MaxTokens")]
    [InlineData("""{ "sandbox": "default" }""", "field 'out' is required")]
    [InlineData("""{ "out": "o", "target": "t" }""", "give either 'sandbox'")]
    [InlineData("""[1]""", "expected a JSON object")]
    public void Malformed_configs_name_the_file_and_the_field(string json, string expected)
    {
        var e = Assert.Throws<AttackConfigException>(() => AttackConfig.Parse(json, "/cfg/attack.json"));
        Assert.StartsWith("/cfg/attack.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }
}
