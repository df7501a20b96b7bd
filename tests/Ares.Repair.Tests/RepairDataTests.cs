using Ares.RedTeam.Catalog;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;

namespace Ares.RedTeam.Tests.Repair;

public class RetentionMixTests
{
    static readonly int[] Safety = [.. Enumerable.Range(0, 7)], Retention = [.. Enumerable.Range(100, 13)];

    [Fact]
    public void Half_of_every_even_batch_is_retention_data()
    {
        var mix = new RetentionMix<int>(Safety, Retention, 0.5, seed: 1);
        for (int i = 0; i < 20; i++)
        {
            var batch = mix.Next(16);
            Assert.Equal(16, batch.Count);
            Assert.Equal(8, batch.Count(x => x >= 100));
        }
    }

    [Fact]
    public void A_fractional_share_is_exact_over_many_batches_and_within_one_item_per_batch()
    {
        var mix = new RetentionMix<int>(Safety, Retention, 0.3, seed: 2);
        var counts = Enumerable.Range(0, 100).Select(_ => mix.Next(10).Count(x => x >= 100)).ToList();
        Assert.Equal(300, counts.Sum());
        Assert.All(counts, c => Assert.Equal(3, c));
        var odd = new RetentionMix<int>(Safety, Retention, 0.25, seed: 3);
        var oddCounts = Enumerable.Range(0, 100).Select(_ => odd.Next(6).Count(x => x >= 100)).ToList();
        Assert.Equal(150, oddCounts.Sum());                                   // 600 × 0.25
        Assert.All(oddCounts, c => Assert.InRange(c, 1, 2));                  // ⌊1.5⌋ or ⌈1.5⌉
    }

    [Fact]
    public void Each_source_is_drawn_in_full_passes_before_any_item_repeats()
    {
        var mix = new RetentionMix<int>(Safety, Retention, 0.5, seed: 4);
        var drawn = Enumerable.Range(0, 13).SelectMany(_ => mix.Next(2)).ToList();   // 13 retention + 13 safety items
        Assert.Equal(Retention.Order(), drawn.Where(x => x >= 100).Order());
        Assert.Equal(Safety, drawn.Where(x => x < 100).Take(7).Order());
    }

    [Fact]
    public void Shares_of_zero_and_one_draw_from_one_source_only()
    {
        Assert.All(new RetentionMix<int>(Safety, [], 0, seed: 5).Next(9), x => Assert.True(x < 100));
        Assert.All(new RetentionMix<int>([], Retention, 1, seed: 5).Next(9), x => Assert.True(x >= 100));
    }

    [Fact]
    public void Missing_data_or_a_share_outside_zero_to_one_is_refused_with_the_reason()
    {
        Assert.Contains("needs retention pairs", Assert.Throws<ArgumentException>(() => new RetentionMix<int>(Safety, [], 0.5, 1)).Message);
        Assert.Contains("at least one safety pair", Assert.Throws<ArgumentException>(() => new RetentionMix<int>([], Retention, 0.5, 1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetentionMix<int>(Safety, Retention, 1.5, 1));
        Assert.Contains("RetentionShare", Assert.Throws<ArgumentException>(() => new RewardRepairConfig { RetentionShare = -0.1 }.Validate()).Message);
    }
}

public class RepairPreferencesTests
{
    static ProbeCase Case(int index, FailureClass? cls, string tactic = "fiction")
    {
        var tuple = new ComponentTuple("weapons", "student", tactic, "instructions");
        return new ProbeCase
        {
            Index = index,
            Components = tuple,
            Seed = index,
            Class = cls,
            CreatedUtc = DateTime.UnixEpoch,
            Case = cls is null ? null : new MentorCase(tuple, $"prompt {index}", $"Sure: [redacted] {index}", $"I can't help with that {index}."),
            MentorFailure = cls is null ? "no output" : null,
        };
    }

    [Fact]
    public void Safety_pairs_come_from_rm_only_and_systemic_cases_with_the_safe_response_chosen()
    {
        var cases = new[] { Case(0, FailureClass.RmOnly), Case(1, FailureClass.Robust), Case(2, FailureClass.Systemic, "authority"),
                            Case(3, FailureClass.PolicyOnly), Case(4, null), Case(5, FailureClass.Unscored) };
        var pairs = RepairPreferences.SafetyPairs(cases);
        Assert.Equal([new TextPreference("prompt 0", "I can't help with that 0.", "Sure: [redacted] 0", "fiction"),
                      new TextPreference("prompt 2", "I can't help with that 2.", "Sure: [redacted] 2", "authority")], pairs);
        Assert.Equal(["prompt 2"], RepairPreferences.SafetyPairs(cases, [FailureClass.Systemic]).Select(p => p.Prompt));
    }

    [Fact]
    public void Pair_files_filter_by_kind_and_harmful_case_files_are_read_safe_over_malicious()
    {
        using var dir = new TempDirectory();
        File.WriteAllLines(dir.File("pairs.jsonl"), [
            """{"prompt":"p1","chosen":"helpful","rejected":"refusal","kind":"benign","tactic":null}""",
            "",
            """{"prompt":"p2","chosen":"Sure: [redacted]","rejected":"I can't.","kind":"harmful","tactic":"fiction"}""",
        ]);
        File.WriteAllText(dir.File("harmful.jsonl"), """{"prompt":"p3","malicious":"Sure: [redacted]","safe":"I can't.","topic":"fraud","tactic":"fiction"}""" + "\n");

        Assert.Equal(2, RepairPreferences.ReadPairs(dir.File("pairs.jsonl")).Count);
        Assert.Equal([new TextPreference("p1", "helpful", "refusal")], RepairPreferences.ReadPairs(dir.File("pairs.jsonl"), kind: "benign"));
        Assert.Equal([new TextPreference("p3", "I can't.", "Sure: [redacted]", "fiction")], RepairPreferences.ReadHarmfulCases(dir.File("harmful.jsonl")));
    }

    [Fact]
    public void A_malformed_row_names_the_file_line_and_field()
    {
        using var dir = new TempDirectory();
        File.WriteAllLines(dir.File("bad.jsonl"), ["""{"prompt":"p","chosen":"c","rejected":"r"}""", """{"prompt":"p","chosen":3,"rejected":"r"}"""]);
        var e = Assert.Throws<InvalidDataException>(() => RepairPreferences.ReadPairs(dir.File("bad.jsonl")));
        Assert.Contains("bad.jsonl:2: field \"chosen\" must be a string", e.Message);
        File.WriteAllLines(dir.File("missing.jsonl"), ["""{"prompt":"p","chosen":"c"}"""]);
        Assert.Contains("missing.jsonl:1: missing string field \"rejected\"", Assert.Throws<InvalidDataException>(() => RepairPreferences.ReadPairs(dir.File("missing.jsonl"))).Message);
        Assert.Contains("not a JSON object",
            Assert.Throws<InvalidDataException>(() => { File.WriteAllText(dir.File("x.jsonl"), "{oops\n"); RepairPreferences.ReadPairs(dir.File("x.jsonl")); }).Message);
    }
}
