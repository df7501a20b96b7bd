using Ares.Core.Formats;
using Ares.Core.Tokenization;
using Ares.Models.Loading;
using Ares.Models.Nn;
using Ares.Models.Tests;
using Ares.RedTeam.Tests;
using static TorchSharp.torch;

namespace Ares.Cli.Tests;

/// <summary>
/// A tiny Llama (ChatML tokenizer) that answers every conversation with one fixed text, so a test
/// can serve a model whose replies an LLM mentor parses. It is a bigram chain: attention and MLP
/// outputs are zero, so the last hidden state is the current token's embedding; the reply's tokens
/// (all distinct) and the generation prompt's last token get orthogonal embeddings, and the LM head
/// maps each to the next one, the last to the end-of-turn token. The logit margin (α·√d ≈ 70) makes
/// sampling at any temperature ≤ 1 pick the chain.
/// </summary>
internal static class ScriptedReplyModel
{
    const int Hidden = 48;
    const float Alpha = 10f;

    public static string Write(string dir, string reply, int maxPositions = 2048)
    {
        var src = Path.Combine(Fixtures.Tokenizers, "qwen3");
        int start;
        var probe = TinyHfDirectory.Write(dir + ".probe", "qwen3");
        using (var loaded = ModelLoader.Load(probe))
            start = loaded.EncodeChat([new ChatMessage("system", "s"), new ChatMessage("user", "u")])[^1];
        Directory.Delete(probe, recursive: true);

        var tokenizer = HfTokenizer.Load(src);
        var chain = Segment(tokenizer, reply, exclude: [start, .. tokenizer.StopIds]);
        Assert.Equal(reply, tokenizer.Decode(chain));
        Assert.True(chain.Length + 1 <= Hidden, $"the reply needs {chain.Length} tokens; the model has room for {Hidden - 1}");
        var end = tokenizer.StopIds.First(); // any of them ends the turn

        var c = TinyModels.Llama(tokenizer.VocabSize, labels: null, tied: false) with
        {
            HiddenSize = Hidden,
            IntermediateSize = 8,
            NumLayers = 1,
            NumHeads = 2,
            NumKvHeads = 1,
            HeadDim = Hidden / 2,
            MaxPositions = maxPositions,
        };
        using var model = TinyModels.Create(c, seed: 1);
        using (no_grad())
        {
            var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
            foreach (var (name, w) in p)
                if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal)) w.zero_();
                else if (name.EndsWith("norm.weight", StringComparison.Ordinal)) w.fill_(1f);
            var embed = p["model.embed_tokens.weight"].zero_();
            var head = p["lm_head.weight"].zero_();
            int[] states = [start, .. chain];
            for (var k = 0; k < states.Length; k++)
            {
                embed[states[k], k].fill_(1f);
                head[k + 1 < states.Length ? states[k + 1] : end, k].fill_(Alpha);
            }
        }
        HfModelSaver.Save(model, dir, TensorDType.F32, d =>
        {
            foreach (var f in Directory.GetFiles(src)) File.Copy(f, Path.Combine(d, Path.GetFileName(f)));
        });
        return dir;
    }

    /// <summary>
    /// <paramref name="text"/> as token ids that decode to it, no id twice and none in
    /// <paramref name="exclude"/>: at each position the longest piece that still has an unused token.
    /// </summary>
    static int[] Segment(HfTokenizer tokenizer, string text, IReadOnlyCollection<int> exclude)
    {
        var byText = new Dictionary<string, List<int>>();
        for (var id = 0; id < tokenizer.VocabSize; id++)
        {
            var s = tokenizer.Decode([id]);
            if (s.Length == 0 || s.Contains('\uFFFD')) continue;
            if (!byText.TryGetValue(s, out var ids)) byText[s] = ids = [];
            ids.Add(id);
        }
        var longest = byText.Keys.Max(k => k.Length);
        var used = new HashSet<int>(exclude);
        var chain = new List<int>();
        for (var at = 0; at < text.Length;)
        {
            var taken = false;
            for (var n = Math.Min(longest, text.Length - at); n > 0 && !taken; n--)
                if (byText.TryGetValue(text.Substring(at, n), out var ids) && ids.FirstOrDefault(i => !used.Contains(i), -1) is var id and >= 0)
                {
                    used.Add(id);
                    chain.Add(id);
                    at += n;
                    taken = true;
                }
            Assert.True(taken, $"no unused token for {text[at..]}");
        }
        return [.. chain];
    }
}
