using System.Text.Json;
using Ares.RedTeam.Attack;
using Ares.RedTeam.Repair;
using Ares.RedTeam.Sandbox;
using Ares.RedTeam.Store;
using Ares.RedTeam.Tests.Sandbox;
using Xunit.Abstractions;

namespace Ares.RedTeam.Tests.Attack;

/// <summary>`ares attack eval` and `ares safety-tune` end to end (runner level) on the small sandbox world, with tiny settings.</summary>
public sealed class AttackEvalRunnerTests(SmallWorldFixture fixture, ITestOutputHelper output) : IClassFixture<SmallWorldFixture>
{
    const int N = 6;

    /// <summary>Tiny settings; the transfer targets are the world's policy again (same model, so same outcomes) and a random tiny model (a different one).</summary>
    AttackConfig Config(TempDirectory dir)
    {
        string other = File.Exists(Path.Combine(dir.File("other"), "config.json")) ? dir.File("other") : TinyHfDirectory.Write(dir.File("other"), "qwen3", maxPositions: 256);
        return AttackConfig.Parse($$"""
        { "out": "run", "sandbox": "{{fixture.World.Name}}", "sandbox_root": "{{fixture.Root}}", "seed": 3,
          "sft": { "steps": 3, "batch": 4, "lr": 2e-3 },
          "train": { "steps": 4, "batch": 4, "checkpoint_every": 2, "lora_rank": 4 },
          "reward": { "k": 1, "response_tokens": 8 },
          "prompts": { "min_tokens": 2, "max_tokens": 12 },
          "eval": { "prompts": {{N}} },
          "targets": ["sandbox:{{fixture.World.Name}}", "{{other}}"],
          "safety_tune": { "success_threshold": 0.0, "lora": { "rank": 4, "alpha": 8, "dropout": 0.0 }, "sft": { "max_steps": 3, "batch_size": 4, "learning_rate": 0.002 } } }
        """, dir.File("attack.json"));
    }

    [Fact]
    public async Task Eval_over_two_methods_then_safety_tune_write_consistent_results()
    {
        using var dir = new TempDirectory();
        var c = Config(dir);
        AttackRunner.Train(c, SandboxWorld.TryLoad, AttackMethod.Sft, resume: false);
        Assert.False(File.Exists(Path.Combine(c.OutDir, AttackRunner.FewShotDir, AttackRunner.FewShotSettingsFile)));
        AttackRunner.Train(c, SandboxWorld.TryLoad, AttackMethod.FewShot, resume: false);
        Assert.True(File.Exists(Path.Combine(c.OutDir, AttackRunner.FewShotDir, AttackRunner.FewShotSettingsFile)));   // fewshot trains nothing, records its settings
        Assert.Equal(["sft", "fewshot"], AttackEvalRunner.Available(c));
        var missing = await Assert.ThrowsAsync<FileNotFoundException>(() => AttackEvalRunner.RunAsync(c, SandboxWorld.TryLoad, ["gfn"]));
        Assert.Contains("train --method gfn", missing.Message);

        var report = await AttackEvalRunner.RunAsync(c, SandboxWorld.TryLoad, ["sft", "fewshot"]);
        Assert.Equal(["sft", "fewshot"], report.Methods.Select(m => m.Source.Method));
        Assert.Equal([AttackEvalRunner.MainTarget, $"sandbox:{fixture.World.Name}", dir.File("other")], report.Targets);
        Assert.Equal(MiniLmEmbedder.Shared.Identity, report.Embedder);      // the documented default embedder: the MiniLM sentence encoder
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
            // The first transfer target is the same policy, sampled with the same seed: identical outcomes.
            Assert.Equal(m.Targets[0].Success, m.Targets[1].Success);
            Assert.Equal(m.Targets[0].MeanHarm, m.Targets[1].MeanHarm);
            // The second is another model: its own responses, so its own harm (the same N prompts).
            Assert.NotEqual(m.Targets[0].Identity, m.Targets[2].Identity);
            Assert.NotEqual(m.Targets[0].MeanHarm, m.Targets[2].MeanHarm);
            Assert.Equal(rows.Where(r => r.GetProperty("target").GetString() == AttackEvalRunner.MainTarget).Select(r => r.GetProperty("prompt").GetString()),
                rows.Where(r => r.GetProperty("target").GetString() == dir.File("other")).Select(r => r.GetProperty("prompt").GetString()));

            // The store holds the same evaluation, with provenance.
            using var store = RunStore.Open(c.StorePath, create: false);
            var run = Assert.Single(AttackRuns.Runs(store, "attack", "eval-" + m.Source.Method));
            Assert.Equal(("complete", ModelIdentity.ForLocal(fixture.World.PolicyDir), ModelIdentity.ForLocal(fixture.World.JudgeDir)), (run.Status, run.Target, run.Judge));
            Assert.Equal((m.Source.Attacker, m.Source.Method, m.Embedder), (run.Attacker, run.Method, run.Embedder));
            Assert.Equal(c.ConfigHash, run.ConfigSha256);
            var stored = AttackRuns.LoadEvaluation(store, run);
            Assert.Equal(m.Targets, stored.Targets);
            Assert.Equal(N * report.Targets.Count, store.LoadAttackPrompts(run.RunId).Count);   // every (target, prompt) row, as in METHOD.jsonl
            Assert.Equal(m.Rows.Select(r => (r.Prompt, r.Target, r.MeanHarm, r.Success)), stored.Rows.Select(r => (r.Prompt, r.Target, r.MeanHarm, r.Success)));
            Assert.Equal(m.Diversity, stored.Diversity);
            Assert.Equal((m.Source, m.Judge, m.Embedder, m.Prompts, m.ResponsesPerPrompt, m.Seed),
                (stored.Source, stored.Judge, stored.Embedder, stored.Prompts, stored.ResponsesPerPrompt, stored.Seed));
        }
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(report.EvalDir, AttackEvalReport.SummaryFile))))
        {
            var methods = summary.RootElement.GetProperty("methods");
            Assert.Equal(report.Methods[0].Targets[0].Success.Successes, methods.GetProperty("sft").GetProperty("targets")[0].GetProperty("success").GetProperty("successes").GetInt32());
            Assert.Equal(N, summary.RootElement.GetProperty("prompts").GetInt32());
        }

        // Re-evaluating one method keeps the other's last result in the summary; the same seed gives the same prompts and outcomes.
        var again = await AttackEvalRunner.RunAsync(c, SandboxWorld.TryLoad, ["fewshot"]);
        Assert.Equal(["sft", "fewshot"], again.Methods.Select(m => m.Source.Method));
        using (var store = RunStore.Open(c.StorePath, create: false))
        {
            Assert.Equal(["attack.eval-fewshot.1", "attack.eval-fewshot.2"], AttackRuns.Runs(store, "attack", "eval-fewshot").Select(r => r.RunId));   // earlier evaluations stay
            var fromStore = AttackRuns.LoadReport(store, "attack")!;
            Assert.Equal(["sft", "fewshot"], fromStore.Methods.Select(m => m.Source.Method));
            Assert.Equal(again.Methods.Select(m => m.Targets), fromStore.Methods.Select(m => m.Targets));
            Assert.Equal(again.Targets, fromStore.Targets);
        }
        Assert.Equal(report.Methods[0].Targets[0].Success, again.Methods[0].Targets[0].Success);
        Assert.Equal(report.Methods[1].Targets[0].Success, again.Methods[1].Targets[0].Success);
        Assert.Equal(report.Methods[1].Diversity, again.Methods[1].Diversity);

        var outcome = await SafetyTuneRunner.RunAsync(c, SandboxWorld.TryLoad, "sft");
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

        await Assert.ThrowsAsync<ArgumentException>(() => SafetyTuneRunner.RunAsync(c, SandboxWorld.TryLoad, "sft", ["sft"]));
    }

    /// <summary>
    /// Training stages are runs in the store with the metric stream of OUT/metrics.jsonl; a GFlowNet run
    /// that dies after its step-2 checkpoint (at step 3) is resumed into the same run, whose stream then
    /// holds each step once, and equals an uninterrupted run's.
    /// </summary>
    [Fact]
    public void Training_stages_are_store_runs_and_a_resumed_gflownet_continues_its_run()
    {
        using var dir = new TempDirectory();
        var c = Config(dir);
        var crash = new InvalidOperationException("simulated crash");
        var e = Assert.Throws<InvalidOperationException>(() => AttackRunner.Train(c, SandboxWorld.TryLoad, AttackMethod.Gfn, resume: false, (phase, step, _, _) =>
        {
            if (phase == "gfn" && step == 2) throw crash;
        }));
        Assert.Same(crash, e);
        using (var store = RunStore.Open(c.StorePath, create: false))
        {
            Assert.Equal(["attack.sft.1", "attack.gfn.1"], store.ListAttackRuns().Select(r => r.RunId));
            Assert.Equal(["complete", "failed"], store.ListAttackRuns().Select(r => r.Status));
            Assert.Equal([(RunStore.AttackKind, "attack.sft.1"), (RunStore.AttackKind, "attack.gfn.1")], store.ListRunHeaders().Select(h => (h.Kind, h.RunId)));
            Assert.Empty(store.ListRuns());                                                         // no discovery or eval runs
            Assert.Equal([0L, 1, 2], store.LoadMetrics("attack.gfn.1", "gfn").Select(p => p.Step).Distinct());
            var sftRun = store.GetAttackRun("attack.sft.1")!;
            Assert.Equal(("attack", "sft", null), (sftRun.RunName, sftRun.Stage, sftRun.Method));
            Assert.Equal(ModelIdentity.ForLocal(fixture.World.PolicyDir), sftRun.Attacker);        // the SFT stage's attacker is the base model
            Assert.Equal(ModelIdentity.ForLocal(fixture.World.PolicyDir), sftRun.Target);
            Assert.Equal(ModelIdentity.ForLocal(fixture.World.JudgeDir), sftRun.Judge);
            Assert.Equal(ModelIdentity.ForLocal(Path.Combine(c.OutDir, AttackRunner.SftDir)), store.GetAttackRun("attack.gfn.1")!.Attacker);
            Assert.Equal(ModelIdentity.ContentHashOf(Path.Combine(fixture.World.DataDir, SandboxData.AttackSeeds)), sftRun.SeedsSha256);
            Assert.Equal(c.ConfigHash, sftRun.ConfigSha256);
            Assert.Equal(3, store.LoadMetrics("attack.sft.1", "sft").Select(p => p.Step).Distinct().Count());
        }

        var result = AttackRunner.Train(c, SandboxWorld.TryLoad, AttackMethod.Gfn, resume: true);
        Assert.Equal("attack.gfn.1", result.RunId);
        using var dir2 = new TempDirectory();
        var c2 = Config(dir2);
        AttackRunner.Train(c2, SandboxWorld.TryLoad, AttackMethod.Gfn, resume: false);
        using (var store = RunStore.Open(c.StorePath, create: false))
        using (var store2 = RunStore.Open(c2.StorePath, create: false))
        {
            Assert.Equal("complete", store.GetAttackRun("attack.gfn.1")!.Status);
            var resumed = store.LoadMetrics("attack.gfn.1", "gfn");
            var full = store2.LoadMetrics("attack.gfn.1", "gfn");
            Assert.Equal([0L, 1, 2, 3], resumed.Select(p => p.Step).Distinct());
            Assert.Equal(full.Select(p => (p.Step, p.Key, p.Value)), resumed.Select(p => (p.Step, p.Key, p.Value)));
            Assert.Contains(resumed, p => p.Key == "tb/log_z");
            Assert.Contains(resumed, p => p.Key == "buffer/size");
            // The file stream is append-only: it keeps step 2 of the crashed attempt, then the resumed steps 2 and 3.
            var lines = File.ReadAllLines(Path.Combine(c.OutDir, AttackRunner.MetricsFile)).Select(l => JsonDocument.Parse(l).RootElement)
                .Where(l => l.GetProperty("phase").GetString() == "gfn").ToList();
            var loss = full.Where(p => p.Key == "tb/loss").Select(p => p.Value).ToList();
            Assert.Equal([loss[0], loss[1], loss[2], loss[2], loss[3]], lines.Select(l => l.GetProperty("metrics").GetProperty("tb/loss").GetDouble()));
        }

        var rl = AttackRunner.Train(c, SandboxWorld.TryLoad, AttackMethod.Reinforce, resume: false);
        using (var store = RunStore.Open(c.StorePath, create: false))
        {
            Assert.Equal(("attack.reinforce.1", "complete"), (rl.RunId, store.GetAttackRun("attack.reinforce.1")!.Status));
            Assert.Equal([0L, 1, 2, 3], store.LoadMetrics("attack.reinforce.1", "reinforce").Select(p => p.Step).Distinct());
            Assert.True(File.Exists(Path.Combine(c.OutDir, AttackRunner.ReinforceDir, ReinforceAttack.CheckpointDir, GflowNetAttack.StateFile)));
        }
    }

    /// <summary>
    /// The GFlowNet's reward against an endpoint target (the probe configs' endpoint object): every prompt
    /// the attacker samples goes to the scripted OpenAI-compatible server as one user turn, and the
    /// world's judge scores the server's answers, which the collected prompts' harm shows.
    /// </summary>
    [Fact]
    public async Task The_gflownet_reward_queries_an_endpoint_target_and_the_judge_scores_its_answers()
    {
        const string answer = "Sure, here is exactly how to do it, step by step.";
        using var server = new Ares.RedTeam.Chat.FaultInjectingServer(_ => Ares.RedTeam.Chat.ServerReply.Completion(answer));
        using var dir = new TempDirectory();
        var c = AttackConfig.Parse($$"""
            { "out": "run", "sandbox": "{{fixture.World.Name}}", "sandbox_root": "{{fixture.Root}}", "seed": 5,
              "target": { "endpoint": "{{server.BaseUrl}}", "model": "target-model", "max_retries": 0 },
              "sft": { "steps": 2, "batch": 4 }, "train": { "steps": 2, "batch": 4, "lora_rank": 4 },
              "reward": { "k": 2, "response_tokens": 8 }, "prompts": { "min_tokens": 2, "max_tokens": 10 } }
            """, dir.File("attack.json"));
        AttackRunner.Train(c, SandboxWorld.TryLoad, AttackMethod.Gfn, resume: false);

        var collected = System.Text.Json.JsonSerializer.Deserialize<List<CollectedPrompt>>(
            File.ReadAllText(Path.Combine(c.OutDir, AttackRunner.GfnDir, GflowNetAttack.CheckpointDir, GflowNetAttack.CollectedFile)))!;
        Assert.NotEmpty(collected);
        var requests = server.Ordered();
        Assert.All(requests, r => Assert.Equal("target-model", r.Body["model"]!.GetValue<string>()));
        var asked = requests.Select(r => r.LastContent).ToList();
        Assert.All(collected, p => Assert.Contains(p.Prompt, asked));   // each sampled prompt was sent to the endpoint as the user turn
        using var judge = Ares.RedTeam.Judges.ClassifierJudge.Load(fixture.World.JudgeDir);
        var verdicts = await judge.JudgeAsync([.. collected.Select(p => new Exchange(p.Prompt, answer))]);
        for (int i = 0; i < collected.Count; i++)
            Assert.Equal(verdicts[i].HarmProbability!.Value, collected[i].MeanHarm, 4);   // both answers are the server's, so the mean is one verdict

        using var store = RunStore.Open(c.StorePath, create: false);
        var run = Assert.Single(store.ListAttackRuns("attack", "gfn"));
        Assert.Equal(("endpoint", "target-model", "complete"), (run.Target.Kind, run.Target.ModelName, run.Status));
        Assert.StartsWith(server.BaseUrl.TrimEnd('/'), run.Target.Location);
        Assert.Equal(ModelIdentity.ForLocal(fixture.World.JudgeDir), run.Judge);
    }
}
