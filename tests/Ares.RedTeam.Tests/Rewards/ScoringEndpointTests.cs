using System.Text.Json.Nodes;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Rewards;

namespace Ares.RedTeam.Tests.Rewards;

/// <summary>Reward models and classifier judges over vLLM's and TEI's HTTP APIs, with faults injected.</summary>
public sealed class ScoringEndpointTests
{
    static readonly Func<TimeSpan, CancellationToken, Task> NoWait = (_, _) => Task.CompletedTask;

    // 2.5 s: past it the scripted stall (5 s) times out; 800 ms also timed out an ordinary request now and then
    // on a loaded CI machine, and the exact attempt counts asserted below then moved by one.
    static EndpointOptions Options(string url, int maxRetries = 3) =>
        new() { BaseUrl = url, Model = "rm-1", MaxRetries = maxRetries, RequestTimeout = TimeSpan.FromMilliseconds(2500) };

    static string Pooling(JsonNode data) => new JsonObject
    {
        ["id"] = "pool-1", ["object"] = "list", ["model"] = "rm-1",
        ["data"] = new JsonArray(new JsonObject { ["index"] = 0, ["object"] = "pooling", ["data"] = data }),
    }.ToJsonString();

    static readonly Exchange[] Exchanges = [new("prompt a", "response a"), new("prompt b", "response b"), new("prompt c", "response c")];

    [Fact]
    public void A_vllm_pooling_reward_model_rides_out_faults_and_scores_each_exchange_once()
    {
        // Per exchange, a scripted run of faults before the score: 429 with Retry-After, 500, 503,
        // a body that is not JSON, an error object with status 200, a stall past the timeout.
        var attempts = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        using var server = new FaultInjectingServer(r =>
        {
            var prompt = r.Body["messages"]![0]!["content"]!.GetValue<string>();
            var n = attempts.AddOrUpdate(prompt, 1, (_, k) => k + 1) - 1;
            return (prompt, n) switch
            {
                ("prompt a", 0) => ServerReply.TooManyRequests("0"),
                ("prompt a", 1) => new ServerReply(503, "busy"),
                ("prompt a", _) => new ServerReply(200, Pooling(new JsonArray(1.25))),
                ("prompt b", 0) => ServerReply.MalformedJson(),
                ("prompt b", 1) => new ServerReply(200, """{"error": {"message": "loading"}}"""),
                ("prompt b", 2) => ServerReply.Hanging(),
                // Token-level pooling: one row per token, the reward is the last token's.
                ("prompt b", _) => new ServerReply(200, Pooling(JsonNode.Parse("[[0.1], [0.2], [-0.75]]")!)),
                _ => ServerReply.ServerError(),
            };
        });
        using var rm = new EndpointRewardModel(new ScoringEndpoint(Options(server.BaseUrl), ScoringApi.VllmPooling, delay: NoWait));

        var scores = rm.Score(Exchanges);

        Assert.Equal(1.25, scores[0]);
        Assert.Equal(-0.75, scores[1]);
        Assert.True(double.IsNaN(scores[2]), "a request that never succeeds scores NaN, not a number");
        var failure = Assert.Single(rm.Failures);
        Assert.Contains("HTTP 500", failure);
        Assert.Contains("after 4 attempts", failure);
        Assert.Equal(3, attempts["prompt a"]);
        Assert.Equal(4, attempts["prompt b"]);
        Assert.Equal(4, attempts["prompt c"]);
        Assert.Equal(new EndpointCounters(11, 8, 1, 2), rm.Endpoint.Counters);
        var request = server.Ordered()[0];
        Assert.Equal("/pooling", request.Path);
        Assert.Equal("rm-1", request.Body["model"]!.GetValue<string>());
        Assert.Equal(["user", "assistant"], request.Body["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()));
        Assert.Equal(ModelIdentity.ForEndpoint(server.BaseUrl + "/pooling", "rm-1"), rm.Identity);
    }

    [Fact]
    public async Task Truncated_bodies_and_dropped_connections_are_retried()
    {
        var body = Pooling(new JsonArray(0.5));
        using var server = new RawHttpServer((i, _) => i switch
        {
            0 => RawHttpServer.Truncated(body),
            1 => null, // connection closed before any response
            _ => RawHttpServer.Response(200, body),
        });
        using var endpoint = new ScoringEndpoint(Options(server.BaseUrl), ScoringApi.VllmPooling, delay: NoWait);

        var outcome = (await endpoint.ScoreAsync([Exchanges[0]])).Single();

        Assert.True(outcome.Ok, outcome.Error);
        Assert.Equal([0.5], outcome.Values);
        Assert.Equal(3, server.Requests);
        Assert.Equal(2, endpoint.Counters.Retries);
    }

    [Fact]
    public async Task A_vllm_classify_judge_reads_the_harmful_index_and_a_failure_is_unscoreable()
    {
        using var server = new FaultInjectingServer(r => r.Body["messages"]![0]!["content"]!.GetValue<string>() switch
        {
            "prompt a" => new ServerReply(200, """{"object": "list", "data": [{"index": 0, "label": "unsafe", "probs": [0.2, 0.8], "num_classes": 2}]}"""),
            "prompt b" => new ServerReply(200, """{"object": "list", "data": [{"index": 0, "label": "safe", "probs": [0.9, 0.1], "num_classes": 2}]}"""),
            _ => ServerReply.Unauthorized(),
        });
        using var judge = new EndpointClassifierJudge(new ScoringEndpoint(Options(server.BaseUrl), ScoringApi.VllmClassify, delay: NoWait));

        var verdicts = await judge.JudgeAsync(Exchanges);

        Assert.Equal([0.8, 0.1], verdicts.Take(2).Select(v => v.HarmProbability!.Value));
        Assert.Null(verdicts[2].HarmProbability);
        Assert.Contains("HTTP 401", verdicts[2].Rationale);
        Assert.Contains("not retried", verdicts[2].Rationale);
        Assert.All(server.Requests, r => Assert.Equal("/classify", r.Path));
        using var named = new ScoringEndpoint(Options(server.BaseUrl), ScoringApi.VllmClassify);
        var e = Assert.Throws<ArgumentException>(void () => _ = new EndpointClassifierJudge(named, harmfulLabel: "unsafe"));
        Assert.Contains("harmful_index", e.Message);
    }

    [Fact]
    public async Task A_tei_predict_judge_sends_the_pair_and_finds_the_harmful_label_by_name()
    {
        using var server = new FaultInjectingServer(r => r.Index == 0
            ? new ServerReply(200, """[[{"label": "SAFE", "score": 0.25}, {"label": "UNSAFE", "score": 0.75}]]""")
            : new ServerReply(200, """[{"label": "toxic", "score": 0.125}, {"label": "neutral", "score": 0.875}]"""));
        using var judge = new EndpointClassifierJudge(new ScoringEndpoint(Options(server.BaseUrl + "/predict"), ScoringApi.TeiPredict));

        var first = await judge.JudgeAsync([Exchanges[0]]);
        var second = await judge.JudgeAsync([Exchanges[1]]);

        Assert.Equal(0.75, first[0].HarmProbability);
        Assert.Contains("p(UNSAFE)", first[0].Rationale);
        Assert.Equal(0.125, second[0].HarmProbability);
        var request = server.Ordered()[0];
        Assert.Equal("/predict", request.Path);
        Assert.Equal("""[["prompt a","response a"]]""", request.Body["inputs"]!.ToJsonString());
        Assert.False(request.Body.ContainsKey("model"));
    }

    [Fact]
    public void A_probe_config_selects_scoring_endpoints_for_the_reward_model_and_the_judge()
    {
        var c = ProbeConfig.Parse("""
            {
              "policy": { "endpoint": "http://127.0.0.1:8000/v1", "model": "policy" },
              "reward_model": { "endpoint": "http://gpu:8001", "api": "vllm-pooling", "model": "Skywork/RM", "api_key_env": "RM_KEY", "timeout_s": 30 },
              "judge": { "type": "classifier", "model": { "endpoint": "http://gpu:8080", "api": "tei-predict", "model": "guard", "harmful_label": "unsafe" } }
            }
            """, "/cfg/probe.json");
        Assert.Equal(new EndpointModelSpec("http://gpu:8001", "Skywork/RM", "RM_KEY", 4, 30, 4, ScoringApi.VllmPooling), c.RewardModel);
        Assert.Equal(new EndpointModelSpec("http://gpu:8080", "guard", null, 4, 60, 4, ScoringApi.TeiPredict, "unsafe"), c.Judge.Model);
        Assert.Null(((EndpointModelSpec)c.Policy).Api);
    }
}
