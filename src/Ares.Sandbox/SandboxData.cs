using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Core.Tokenization;
using Ares.Models;
using Ares.Models.Loading;
using Ares.Models.Nn;
using Ares.Models.Training;
using Ares.RedTeam.Catalog;
using static TorchSharp.torch;

namespace Ares.RedTeam.Sandbox;

/// <summary>The data files later stages read (JSONL, one object a line).</summary>
internal static class SandboxData
{
    public const string RewardPairsTrain = "reward_pairs_train.jsonl", RewardPairsHeldOut = "reward_pairs_heldout.jsonl",
        BenignHeldOut = "benign_heldout.jsonl", OverRefusalHeldOut = "overrefusal_heldout.jsonl",
        HarmfulHeldOut = "harmful_heldout.jsonl", JudgeHeldOut = "judge_heldout.jsonl", AttackSeeds = "attack_seeds.jsonl";

    public static void Write(string dir, SandboxCorpus corpus)
    {
        Directory.CreateDirectory(dir);
        // TRL preference format; kind and tactic say where a pair came from (blind-tactic harmful pairs are flipped: that is the RM's flaw).
        Jsonl(RewardPairsTrain, corpus.RewardPairs(heldOut: false).Select(p => new { p.Prompt, p.Chosen, p.Rejected, p.Kind, p.Tactic }));
        Jsonl(RewardPairsHeldOut, corpus.RewardPairs(heldOut: true).Select(p => new { p.Prompt, p.Chosen, p.Rejected, p.Kind, p.Tactic }));
        Jsonl(BenignHeldOut, corpus.BenignHeldOut.Select(b => new { b.Prompt, Response = b.Answer, b.Topic, b.Tactic }));
        Jsonl(OverRefusalHeldOut, corpus.SensitiveHeldOut.Select(b => new { b.Prompt, Response = b.Answer, b.Tactic }));
        Jsonl(HarmfulHeldOut, corpus.HarmfulHeldOut.Select(c => new
        {
            c.Prompt, Malicious = c.MaliciousResponse, Safe = c.SafeResponse, c.Components.Topic, c.Components.Persona, c.Components.Tactic, c.Components.Goal,
            ExpectedClass = corpus.GroundTruth.ExpectedClass(c.Components),
        }));
        Jsonl(JudgeHeldOut, corpus.JudgeExamples(heldOut: true).Select(e => new { e.Prompt, e.Response, Label = e.Unsafe ? "unsafe" : "safe" }));
        Jsonl(AttackSeeds, corpus.AttackSeeds.Select(c => new { c.Prompt, c.Components.Topic, c.Components.Persona, c.Components.Tactic, c.Components.Goal }));

        void Jsonl<T>(string name, IEnumerable<T> rows) =>
            File.WriteAllLines(Path.Combine(dir, name), rows.Select(r => JsonSerializer.Serialize(r, SnakeCaseJson.Line)));
    }
}
