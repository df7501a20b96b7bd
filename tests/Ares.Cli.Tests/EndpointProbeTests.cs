using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Ares.Cli.Serve;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Store;
using Ares.RedTeam.Tests;

namespace Ares.Cli.Tests;

/// <summary>
/// A probe with its policy on `ares serve` and its reward model and judge on a scripted vLLM-style
/// server that injects faults (429 + Retry-After, 500/503, stalls past the timeout, malformed JSON,
/// a refused request): interrupted part-way and resumed, every case is accounted for once, and the
/// reward endpoint's API key appears in no file the run wrote.
/// </summary>
public sealed class EndpointProbeTests : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    sealed class ProgressCallback(Action<ProbeProgress> onReport) : IProgress<ProbeProgress>
    {
        public void Report(ProbeProgress value) => onReport(value);
    }

    [Fact]
    public async Task A_probe_over_served_and_faulty_endpoints_accounts_for_every_case_across_an_interruption()
    {
        var env = "ARES_E2E_KEY_" + Guid.NewGuid().ToString("N")[..8];
        var key = "sk-e2e-" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(env, key);
        try
        {
            await using var policy = await ChatServer.StartAsync(
                LocalChatModel.Load(TinyHfDirectory.Write(_dir.File("policy"), "qwen3", maxPositions: 256)), "policy");
            var seen = new ConcurrentDictionary<string, int>();
            int refused = 0;
            using var scoring = new FaultInjectingServer(r =>
            {
                if (r.Authorization != $"Bearer {key}") return ServerReply.Unauthorized();
                var text = r.Body.ToJsonString();
                var attempt = seen.AddOrUpdate(text, 1, (_, n) => n + 1) - 1;
                // The first attempt of a request fails in one of five ways, picked by its content; the retry succeeds.
                var fault = attempt == 0 ? (text.GetHashCode() & 0x7fffffff) % 8 : -1;
                if (r.Path == "/pooling" && attempt == 0 && Interlocked.CompareExchange(ref refused, 1, 0) == 0)
                    return new ServerReply(400, """{"error": {"message": "input too long"}}"""); // not retried: a recorded failure
                switch (fault)
                {
                    case 0: return ServerReply.TooManyRequests("0");
                    case 1: return new ServerReply(503, "overloaded");
                    case 2: return ServerReply.ServerError();
                    case 3: return ServerReply.MalformedJson();
                    case 4: return ServerReply.Hanging() with { Hang = TimeSpan.FromSeconds(2) };
                }
                var response = r.Body["messages"]![1]!["content"]!.GetValue<string>();
                double score = (response.Length % 17) / 17.0;
                return r.Path == "/pooling"
                    ? new ServerReply(200, $$"""{"object": "list", "data": [{"index": 0, "object": "pooling", "data": [{{score - 0.5}}]}]}""")
                    : new ServerReply(200, $$"""{"object": "list", "data": [{"index": 0, "probs": [{{1 - score}}, {{score}}]}]}""");
            });

            var config = _dir.File("probe.json");
            File.WriteAllText(config, $$"""
                {
                  "run": "e2e", "store": "runs.db", "seed": 3,
                  "policy": { "endpoint": "{{policy.Url}}/v1", "model": "policy", "concurrency": 4, "timeout_s": 30 },
                  "reward_model": { "endpoint": "{{scoring.BaseUrl}}", "api": "vllm-pooling", "model": "rm", "api_key_env": "{{env}}", "timeout_s": 0.5, "concurrency": 8 },
                  "judge": { "type": "classifier", "model": { "endpoint": "{{scoring.BaseUrl}}", "api": "vllm-classify", "model": "judge", "api_key_env": "{{env}}", "timeout_s": 0.5 } },
                  "mentor": "template",
                  "budget": { "cases": 8, "samples": 2, "batch": 4 },
                  "sampling": { "temperature": 1, "max_tokens": 6 }
                }
                """);
            var parsed = ProbeConfig.Load(config);
            using (var stop = new CancellationTokenSource())
            {
                // Interrupted after the first batch is stored.
                var progress = new ProgressCallback(p => { if (p.Completed >= 4) stop.Cancel(); });
                Assert.ThrowsAny<OperationCanceledException>(() => ProbeRunner.Run(parsed, resume: false, _ => throw new InvalidOperationException("no sandbox"), progress, stop.Token));
            }
            var result = ProbeRunner.Run(parsed, resume: true, _ => throw new InvalidOperationException("no sandbox"));

            using var store = RunStore.Open(parsed.StorePath, create: false);
            var cases = store.LoadCases("e2e");
            Assert.Equal(Enumerable.Range(0, 8), cases.Select(c => c.Index)); // each case once, none missing
            Assert.Equal("complete", store.GetRun("e2e")!.Status);
            Assert.All(cases, c =>
            {
                Assert.Equal(2, c.Responses.Count);
                Assert.All(c.Responses, r => Assert.True(r.Text is not null ^ r.Error is not null));
            });
            // The refused reward request is a recorded failure: its case is unscored, not dropped or guessed.
            Assert.Single(cases, c => c.Class == FailureClass.Unscored && (c.RewardSafe is null || c.RewardMalicious is null || c.Responses.Any(r => r.Text is not null && r.Reward is null)));
            Assert.Contains(cases, c => c.Class is not FailureClass.Unscored);
            Assert.Equal(8, result.Report.Overall.Cases);
            Assert.True(seen.Values.Any(n => n > 1), "the faults were retried");
            Assert.Equal("endpoint", result.Run.RewardModel.Kind);
            Assert.Equal("rm", result.Run.RewardModel.ModelName);
            Assert.Equal(scoring.BaseUrl + "/classify", result.Run.Judge.Location);

            // The key is in no file the run wrote (store, WAL, config) and not in the stored identities.
            var needle = Encoding.UTF8.GetBytes(key);
            foreach (var file in Directory.GetFiles(_dir.Path, "*", SearchOption.AllDirectories))
                Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf(needle) < 0, $"{file} contains the API key");
        }
        finally { Environment.SetEnvironmentVariable(env, null); }
    }
}
