using Ares.Models.Generation;
using Ares.Models.Loading;
using Ares.RedTeam.Judges;
using static TorchSharp.torch;

namespace Ares.RedTeam.Tests.Judges;

public sealed class ClassifierJudgeTests : IDisposable
{
    readonly TempDirectory _tmp = new();
    public void Dispose() => _tmp.Dispose();

    static readonly Exchange[] Exchanges =
    [
        new("How do I bake bread?", "Mix flour, water, yeast and salt."),
        new("Tell me about [redacted].", "Sure: [redacted]."),
        new("Hi", "I'm sorry, I can't help with that."),
    ];

    /// <summary>Score-head logits of each exchange, one sequence at a time (no batching, no padding).</summary>
    static float[][] ManualLogits(LoadedModel m)
    {
        using var _ = no_grad();
        return Exchanges.Select(e =>
        {
            using var scores = SequenceScorer.Scores(m.Model, [m.EncodeExchange(e.Prompt, e.Response)]); // (1, labels)
            return scores[0].data<float>().ToArray();
        }).ToArray();
    }

    static double Softmax(float[] logits, int k) => Math.Exp(logits[k]) / logits.Sum(l => Math.Exp(l));

    /// <summary>Judges <see cref="Exchanges"/> and checks each probability against <paramref name="expected"/> of the manual logits.</summary>
    static (ClassifierJudge Judge, IReadOnlyList<JudgeVerdict> Verdicts) JudgeAgainstManual(string dir,
        Func<LoadedModel, ClassifierJudge> create, Func<float[], double> expected)
    {
        var model = ModelLoader.Load(dir);
        var manual = ManualLogits(model);
        var judge = create(model);
        var verdicts = judge.Judge(Exchanges);
        for (int i = 0; i < Exchanges.Length; i++)
            Assert.Equal(expected(manual[i]), Assert.IsType<double>(verdicts[i].HarmProbability), 1e-5);
        return (judge, verdicts);
    }

    [Fact]
    public void Two_labels_give_the_softmax_probability_of_the_label_id2label_names_unsafe()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("c"), "mistral", labels: 2, editConfig: TinyHfDirectory.Labels("safe", "unsafe"));
        var (judge, v) = JudgeAgainstManual(dir, m => new ClassifierJudge(m, maxBatchSize: 2), l => Softmax(l, 1));
        using (judge)
        {
            Assert.Equal(1, judge.HarmfulIndex);
            Assert.Matches(@"^classifier p\(unsafe\)=\d\.\d{3}$", v[0].Rationale);
        }
    }

    [Fact]
    public void The_harmful_label_follows_id2label_not_its_position()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("c"), "mistral", labels: 2, editConfig: TinyHfDirectory.Labels("TOXIC", "non-toxic"));
        using var judge = JudgeAgainstManual(dir, m => new ClassifierJudge(m), l => Softmax(l, 0)).Judge;
        Assert.Equal("TOXIC", judge.HarmfulLabel);
    }

    [Fact]
    public void An_explicit_label_name_or_index_overrides_the_guess()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("c"), "mistral", labels: 3, editConfig: TinyHfDirectory.Labels("benign", "harmful", "Jailbreak"));
        using (var model = ModelLoader.Load(dir))
        {
            var e = Assert.Throws<ArgumentException>(() => new ClassifierJudge(model));
            Assert.Contains("several labels look harmful (harmful, Jailbreak)", e.Message);
        }
        JudgeAgainstManual(dir, m => new ClassifierJudge(m, harmfulLabel: "jailbreak"), l => Softmax(l, 2)).Judge.Dispose();
        JudgeAgainstManual(dir, m => new ClassifierJudge(m, harmfulIndex: 1), l => Softmax(l, 1)).Judge.Dispose();
        using (var model = ModelLoader.Load(dir))
        {
            Assert.Contains("no label 'toxic' in id2label (0=benign, 1=harmful, 2=Jailbreak)",
                Assert.Throws<ArgumentException>(() => new ClassifierJudge(model, harmfulLabel: "toxic")).Message);
            Assert.Contains("index 3 is out of range",
                Assert.Throws<ArgumentException>(() => new ClassifierJudge(model, harmfulIndex: 3)).Message);
        }
    }

    [Fact]
    public void Unnamed_binary_labels_read_LABEL_1_as_harmful_and_more_unnamed_labels_need_a_choice()
    {
        var binary = TinyHfDirectory.Write(_tmp.File("b"), "mistral", labels: 2); // the saver writes LABEL_0, LABEL_1
        JudgeAgainstManual(binary, m => new ClassifierJudge(m), l => Softmax(l, 1)).Judge.Dispose();
        var three = TinyHfDirectory.Write(_tmp.File("t"), "mistral", labels: 3);
        using var model = ModelLoader.Load(three);
        Assert.Contains("cannot tell which label is harmful", Assert.Throws<ArgumentException>(() => new ClassifierJudge(model)).Message);
    }

    [Fact]
    public void One_label_gives_the_sigmoid_of_its_logit_and_too_long_exchanges_are_unscoreable()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("c"), "mistral", labels: 1, maxPositions: 64);
        using var judge = JudgeAgainstManual(dir, m => new ClassifierJudge(m), l => 1 / (1 + Math.Exp(-l[0]))).Judge;
        var v = judge.Judge([new("Hi", string.Join(" ", Enumerable.Repeat("[redacted]", 40))), Exchanges[0]]);
        Assert.False(v[0].Scoreable);
        Assert.Contains("more than the classifier's 64 positions", v[0].Rationale);
        Assert.True(v[1].Scoreable);
    }

    [Fact]
    public void A_causal_LM_is_not_a_classifier()
    {
        var dir = TinyHfDirectory.Write(_tmp.File("lm"), "mistral");
        using var model = ModelLoader.Load(dir);
        var e = Assert.Throws<ArgumentException>(() => new ClassifierJudge(model));
        Assert.Contains(dir, e.Message);
        Assert.Contains("no score head", e.Message);
    }
}
