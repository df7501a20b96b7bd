using System.Text.Json;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;
using Ares.RedTeam.Tests.Sandbox;
using Xunit.Abstractions;

namespace Ares.RedTeam.Tests.Attack;

/// <summary>`ares attack eval` and `ares safety-tune` end to end (runner level) on the small sandbox world, with tiny settings.</summary>
public sealed class AttackEvalRunnerTests(SmallWorldFixture fixture, ITestOutputHelper output) : IClassFixture<SmallWorldFixture>
{
    const int N = 6;

    AttackConfig Config(TempDirectory dir) => AttackConfig.Parse($$"""
        { "out": "run", "sandbox": "{{fixture.World.Name}}", "sandbox_root": "{{fixture.Root}}", "seed": 3,
          "sft": { "steps": 3, "batch": 4, "lr": 2e-3 },
          "reward": { "k": 1, "response_tokens": 8 },
          "prompts": { "min_tokens": 2, "max_tokens": 12 },
          "eval": { "prompts": {{N}} },
          "targets": ["sandbox:{{fixture.World.Name}}"],
          "safety_tune": { "success_threshold": 0.0, "lora": { "rank": 4, "alpha": 8, "dropout": 0.0 }, "sft": { "max_steps": 3, "batch_size": 4, "learning_rate": 0.002 } } }
        """, dir.File("attack.json"));

    [Fact]
    public async Task Eval_over_two_methods_then_safety_tune_write_consistent_results()
    {
        using var dir = new TempDirectory();
        var c = Config(dir);
        AttackRunner.Train(c, AttackMethod.Sft, resume: false);
        Assert.False(File.Exists(Path.Combine(c.OutDir, AttackRunner.FewShotDir, AttackRunner.FewShotSettingsFile)));
        AttackRunner.Train(c, AttackMethod.FewShot, resume: false);
        Assert.True(File.Exists(Path.Combine(c.OutDir, AttackRunner.FewShotDir, AttackRunner.FewShotSettingsFile)));   // fewshot trains nothing, records its settings
        Assert.Equal(["sft", "fewshot"], AttackEvalRunner.Available(c));
        var missing = await Assert.ThrowsAsync<FileNotFoundException>(() => AttackEvalRunner.RunAsync(c, ["gfn"]));
        Assert.Contains("train --method gfn", missing.Message);

        var report = await AttackEvalRunner.RunAsync(c, ["sft", "fewshot"]);
        Assert.Equal(["sft", "fewshot"], report.Methods.Select(m => m.Source.Method));
        Assert.Equal([AttackEvalRunner.MainTarget, $"sandbox:{fixture.World.Name}"], report.Targets);
        Assert.Equal(ModelIdentity.ForLocal(fixture.World.JudgeDir), report.Embedder);      // the documented default embedder
        foreach (var m in report.Methods)
        {
            string jsonl = AttackEvalReport.ResultsPath(report.EvalDir, m.Source.Method);
            var rows = File.ReadAllLines(jsonl).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(N * report.Targets.Count, rows.Count);
            Assert.True(File.Exists(Path.Combine(report.EvalDir, $"{m.Source.Method}.json")));
            Assert.Equal(N, m.Prompts);
            Assert.InRange(m.Diversity.MeanPairwiseCosine, -1, 1);
            Assert.InRange(m.Diversity.Distinct1, 0, 1);
            Assert.InRange(m.Diversity.Distinct2, 0, 1);
            foreach (var t in m.Targets)
            {
                var p = t.Success;
                output.WriteLine($"{m.Source.Method} → {t.Target}: {p}, mean harm {t.MeanHarm:F3}, cos {m.Diversity.MeanPairwiseCosine:F3}");
                Assert.Equal(N, p.Trials);
                Assert.InRange(p.Successes, 0, N);
                Assert.InRange(p.Rate, p.Low, p.High);
                Assert.Equal(rows.Count(r => r.GetProperty("target").GetString() == t.Target && r.GetProperty("success").GetBoolean()), p.Successes);
                Assert.InRange(t.MeanHarm, 0, 1);
            }
            // The transfer target is the same policy, sampled with the same seed: identical outcomes.
            Assert.Equal(m.Targets[0].Success, m.Targets[1].Success);
        }
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(report.EvalDir, AttackEvalReport.SummaryFile))))
        {
            var methods = summary.RootElement.GetProperty("methods");
            Assert.Equal(report.Methods[0].Targets[0].Success.Successes, methods.GetProperty("sft").GetProperty("targets")[0].GetProperty("success").GetProperty("successes").GetInt32());
            Assert.Equal(N, summary.RootElement.GetProperty("prompts").GetInt32());
        }

        // Re-evaluating one method keeps the other's last result in the summary; the same seed gives the same prompts and outcomes.
        var again = await AttackEvalRunner.RunAsync(c, ["fewshot"]);
        Assert.Equal(["sft", "fewshot"], again.Methods.Select(m => m.Source.Method));
        Assert.Equal(report.Methods[0].Targets[0].Success, again.Methods[0].Targets[0].Success);
        Assert.Equal(report.Methods[1].Targets[0].Success, again.Methods[1].Targets[0].Success);
        Assert.Equal(report.Methods[1].Diversity, again.Methods[1].Diversity);

        var outcome = await SafetyTuneRunner.RunAsync(c, "sft");
        var row = Assert.Single(outcome.Against);                                          // every other method with results: fewshot
        Assert.Equal("fewshot", row.Method);
        Assert.Equal(N, row.Prompts);
        Assert.Equal((N, N), (row.Before.Trials, row.After.Trials));
        Assert.InRange(row.After.Rate, row.After.Low, row.After.High);
        Assert.True(outcome.Tuning.AttackExamples >= 1 && outcome.Tuning.Steps == 3, $"{outcome.Tuning}");
        int sensitive = CapabilityEvaluation.ReadPrompts(Path.Combine(fixture.World.DataDir, SandboxData.OverRefusalHeldOut)).Count;
        Assert.Equal((sensitive, sensitive), (outcome.OverRefusalBefore.Trials, outcome.OverRefusalAfter.Trials));   // k = 1 response each
        Assert.True(File.Exists(Path.Combine(SafetyTuneRunner.TunedDir(c, "sft"), "model.safetensors")));
        using var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(SafetyTuneRunner.TunedDir(c, "sft"), SafetyTuneOutcome.ResultFile)));
        Assert.Equal(row.After.Successes, written.RootElement.GetProperty("against")[0].GetProperty("after").GetProperty("successes").GetInt32());
        output.WriteLine($"safety-tune on sft: fewshot {row.Before} → {row.After}; over-refusal {outcome.OverRefusalBefore} → {outcome.OverRefusalAfter}");

        await Assert.ThrowsAsync<ArgumentException>(() => SafetyTuneRunner.RunAsync(c, "sft", ["sft"]));
    }
}
