using static Ares.Cli.Tests.CliHarness;

namespace Ares.Cli.Tests;

/// <summary>`ares attack eval` and `ares safety-tune` refuse bad input with one line naming what is wrong (the full runs are tested on the small world in Ares.RedTeam.Tests).</summary>
[Collection(nameof(ConsoleCapture))]
public class AttackCommandTests
{
    [Fact]
    public void Eval_and_safety_tune_name_the_bad_option_or_the_missing_results()
    {
        using var dir = new TempDirectory();
        string config = dir.File("attack.json");
        File.WriteAllText(config, """{ "out": "run", "sandbox": "default" }""");

        var (code, _, err) = Run("attack", "eval", "--config", config, "--methods", "sft,bogus");
        Assert.Equal(2, code);
        Assert.Contains("--methods: unknown method 'bogus'", err);

        (code, _, err) = Run("attack", "eval", "--config", config, "--methods", "gfn");
        Assert.Equal(2, code);
        Assert.Contains("train --method gfn", err);                                    // the attacker is not there yet: says how to make it

        (code, _, err) = Run("safety-tune", "--config", config, "--attacks", "gfn");
        Assert.Equal(2, code);
        Assert.Contains("no other method has eval results", err);

        (code, _, err) = Run("safety-tune", "--config", config, "--attacks", "gfn", "--against", "gfn");
        Assert.Equal(2, code);
        Assert.Contains("--against lists 'gfn'", err);

        Directory.CreateDirectory(dir.File(Path.Combine("run", "eval")));                   // a damaged eval file: file:line, not a stack trace
        File.WriteAllText(dir.File(Path.Combine("run", "eval", "gfn.jsonl")), "{\"prompt\": \"p\", \"target\": \"main\", \"mean_harm\": 0.9}\n{oops\n");
        File.WriteAllText(dir.File(Path.Combine("run", "eval", "sft.jsonl")), "");
        (code, _, err) = Run("safety-tune", "--config", config, "--attacks", "gfn");
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("gfn.jsonl:2: not a JSON object", err);
    }
}
