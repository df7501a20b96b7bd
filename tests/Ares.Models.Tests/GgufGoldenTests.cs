using System.Text;
using Ares.Core.Formats;
using Ares.Core.Tokenization;
using Ares.Models.Generation;
using Ares.Models.Loading;
using static TorchSharp.torch;

namespace Ares.Models.Tests;

public class GgufGoldenTests
{
    /// Decodes with the GGUF vocabulary only (test double until the real tokenizer lands).
    sealed class PieceTokenizer(string[] tokens) : ITokenizer
    {
        public string Kind => "pieces";
        public int VocabSize => tokens.Length;
        public int? BosId => 1;
        public int? EosId => 2;
        public int? PadId => null;
        public IReadOnlySet<int> StopIds { get; } = new HashSet<int> { 2 };
        public int[] Encode(string text, bool addSpecialTokens = true) => text.Length == 0 ? [1] : throw new NotImplementedException();
        public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
        {
            var bytes = new List<byte>();
            foreach (var id in ids)
            {
                var p = tokens[id];
                if (p.StartsWith("<0x") && p.Length == 6) bytes.Add(Convert.ToByte(p[3..5], 16));
                else bytes.AddRange(Encoding.UTF8.GetBytes(p.Replace('▁', ' ')));
            }
            var s = Encoding.UTF8.GetString(bytes.ToArray());
            return s.StartsWith(' ') ? s[1..] : s;
        }
        public string IdToToken(int id) => tokens[id];
        public int? TokenToId(string token) => Array.IndexOf(tokens, token);
        public bool IsSpecial(int id) => id < 3;
    }

    [Fact]
    public void Greedy_from_BOS_reproduces_llama2c_golden_output()
    {
        using var g = GgufFile.Open(Fixtures.Stories260KGguf);
        var config = GgufModelLoader.ReadConfig(g);
        using var model = GgufModelLoader.Load(g, config, ScalarType.Float32);
        var tok = new PieceTokenizer(g.GetArray<string>("tokenizer.ggml.tokens")!);
        var gen = new TextGenerator(model, tok);
        var r = gen.Generate([[1]], new GenerationOptions { MaxNewTokens = 200, Temperature = 0, StopIds = new HashSet<int>() })[0];
        var golden = File.ReadAllBytes(Path.Combine(Fixtures.Root, "stories260K", "greedy_bos_200.txt"));
        Assert.Equal(Encoding.UTF8.GetString(golden), r.Text);
    }
}
