using System.Text;
using Ares.Models.Generation;
using Ares.Models.Loading;

namespace Ares.Models.Tests;

public class GgufGoldenTests
{
    [Fact]
    public void Greedy_from_BOS_reproduces_llama2c_golden_output_byte_for_byte()
    {
        using var m = ModelLoader.Load(Fixtures.Stories260KGguf);
        var gen = new TextGenerator(m.Model, m.Tokenizer);
        // llama2.c's test runs 200 steps without stopping at EOS.
        var r = gen.Generate([gen.PromptIds("")], new GenerationOptions { MaxNewTokens = 200, Temperature = 0, StopIds = new HashSet<int>() })[0];
        var golden = File.ReadAllBytes(Path.Combine(Fixtures.Root, "stories260K", "greedy_bos_200.txt"));
        Assert.Equal(200, r.TokenIds.Length);
        Assert.Equal(golden, Encoding.UTF8.GetBytes(r.Text));
    }
}
