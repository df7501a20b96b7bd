using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Core.Tokenization;
using Ares.Models.Loading;
using Ares.Models.Tests;

namespace Ares.RedTeam.Tests;

/// <summary>
/// Tiny random-weight HF model directories around the real tokenizer fixtures: "qwen3" (ChatML
/// template) or "mistral" (no template: the plain layout). Small enough to write and load in well
/// under a second, real enough to exercise chat encoding, generation and the score head.
/// </summary>
internal static class TinyHfDirectory
{
    static readonly Dictionary<string, int> VocabSizes = [];

    public static int VocabSize(string tokenizer)
    {
        lock (VocabSizes)
        {
            if (!VocabSizes.TryGetValue(tokenizer, out int v))
                VocabSizes[tokenizer] = v = HfTokenizer.Load(Path.Combine(Fixtures.Tokenizers, tokenizer)).VocabSize;
            return v;
        }
    }

    /// <summary>
    /// Writes a tied Llama (hidden 16) with <paramref name="labels"/> score outputs (null = causal LM)
    /// to <paramref name="dir"/>; <paramref name="editConfig"/> may rewrite config.json (e.g. id2label).
    /// </summary>
    public static string Write(string dir, string tokenizer, int? labels = null, int maxPositions = 128, long seed = 7,
        Action<JsonObject>? editConfig = null)
    {
        var src = Path.Combine(Fixtures.Tokenizers, tokenizer);
        var c = TinyModels.Llama(VocabSize(tokenizer), labels, tied: true)
            with
        { HiddenSize = 16, IntermediateSize = 24, NumHeads = 2, NumKvHeads = 1, MaxPositions = maxPositions };
        using (var model = TinyModels.Create(c, seed))
            HfModelSaver.Save(model, dir, TensorDType.F32, d =>
            {
                foreach (var f in Directory.GetFiles(src)) File.Copy(f, Path.Combine(d, Path.GetFileName(f)));
            });
        if (editConfig is not null)
        {
            var path = Path.Combine(dir, "config.json");
            var json = (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;
            editConfig(json);
            File.WriteAllText(path, json.ToJsonString());
        }
        return dir;
    }

    /// <summary>config.json's id2label/label2id set to <paramref name="labels"/>.</summary>
    public static Action<JsonObject> Labels(params string[] labels) => j =>
    {
        j["id2label"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create($"{i}", (JsonNode?)JsonValue.Create(l))));
        j["label2id"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(l, (JsonNode?)JsonValue.Create(i))));
    };

    public static LoadedModel Load(string dir) => ModelLoader.Load(dir);
}
