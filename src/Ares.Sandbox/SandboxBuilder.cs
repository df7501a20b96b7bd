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

/// <summary>
/// One progress report of a build: the phase ("corpus", "tokenizer", "policy", "reward", "judge",
/// "save", "self-check"), a message, and during training the step, total steps and the step's metrics
/// (the trainers' own metric keys: loss, accuracy, margin, lr, …).
/// </summary>
internal sealed record SandboxProgress(string Phase, string Message, int Step = 0, int Steps = 0, IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>
/// Builds a sandbox world into an empty directory: corpus → byte-level BPE tokenizer → policy (SFT),
/// reward model (Bradley–Terry) and judge (classifier), all Llama models trained from scratch in
/// fp32 → HF directories and data files → self-check on the reloaded models. Responsible for the
/// contents of the directory; does not own caching or where it lives (see <see cref="SandboxWorld"/>).
/// </summary>
internal static class SandboxBuilder
{
    /// <summary>Bumped whenever a change would build a different world from the same spec (the cache key includes it).</summary>
    public const string Version = "2";

    public const string EndOfText = "<|endoftext|>", ImStart = "<|im_start|>", ImEnd = "<|im_end|>";
    public static readonly string[] LabelNames = ["safe", "unsafe"];

    /// <summary>Builds everything except world.json into <paramref name="dir"/>; returns the corpus and the self-check.</summary>
    public static (SandboxCorpus Corpus, SandboxSelfCheck SelfCheck) Build(string dir, SandboxSpec spec, ComponentCatalog catalog, Action<SandboxProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        string? phase = null;
        var phaseClock = Stopwatch.StartNew();
        void Say(string name, string message)
        {
            if (name != phase)
            {
                if (phase is not null) phases[phase] = Math.Round(phaseClock.Elapsed.TotalSeconds, 1);
                (phase, phaseClock) = (name, Stopwatch.StartNew());
            }
            progress?.Invoke(new SandboxProgress(name, message));
        }

        Say("corpus", "composing benign, sensitive-looking and harmful examples");
        var corpus = SandboxCorpus.Build(spec, catalog);

        Say("tokenizer", $"learning {spec.VocabSize} byte-level BPE tokens");
        // Trained on the exchanges as the chat template lays them out, so role names and newlines merge as they will be encoded.
        var chatml = ChatTemplates.Detect(ChatTemplates.ChatMLJinja);
        var texts = corpus.TokenizerExchanges().Select(e => chatml.Format([new ChatMessage("user", e.Prompt), new ChatMessage("assistant", e.Response)], addGenerationPrompt: false));
        var bpe = BpeTrainer.Train(texts, new BpeTrainingOptions { VocabSize = spec.VocabSize, SpecialTokens = [EndOfText, ImStart, ImEnd] });
        var fileOptions = new TokenizerFileOptions { EosToken = ImEnd, PadToken = EndOfText, ChatTemplate = ChatTemplates.ChatMLJinja, ModelMaxLength = spec.MaxPositions };
        string scratch = Path.Combine(dir, ".tokenizer");
        bpe.Save(scratch, fileOptions);
        var tokenizer = HfTokenizer.Load(scratch);
        Directory.Delete(scratch, recursive: true);
        var encoder = new ChatEncoder(tokenizer, spec.MaxPositions);

        var config = new TransformerConfig
        {
            Architecture = Architecture.Llama, VocabSize = tokenizer.VocabSize, HiddenSize = spec.HiddenSize,
            IntermediateSize = spec.IntermediateSize, NumLayers = spec.Layers, NumHeads = spec.Heads, NumKvHeads = spec.Heads,
            HeadDim = spec.HiddenSize / spec.Heads, MaxPositions = spec.MaxPositions, NormEps = 1e-5, TieWordEmbeddings = true,
            EosTokenIds = [bpe.SpecialId(ImEnd)], PadTokenId = bpe.SpecialId(EndOfText),
        };
        void WriteTokenizer(string d)
        {
            bpe.Save(d, fileOptions);
            var gen = new JsonObject { ["eos_token_id"] = bpe.SpecialId(ImEnd), ["pad_token_id"] = bpe.SpecialId(EndOfText) };
            File.WriteAllText(Path.Combine(d, "generation_config.json"), gen.ToJsonString(SnakeCaseJson.Options));
        }
        Action<int, IReadOnlyDictionary<string, double>> Steps(string trainee, int total) =>
            (step, metrics) => progress?.Invoke(new SandboxProgress(trainee, $"step {step + 1}/{total}", step + 1, total, metrics));

        // Policy: SFT on chat-formatted (prompt → response), completion-only loss, ending at <|im_end|>.
        Say("policy", "encoding");
        var sft = corpus.PolicyTrain().Select(e => encoder.Sft(e.Prompt, e.Response)).ToList();
        Say("policy", $"{sft.Count} examples, {sft.Average(e => e.PromptIds.Length + e.CompletionIds.Length):0} tokens on average");
        using var policy = NewModel(config, spec.Seed);
        using (var trainer = new SftTrainer(policy, new SftConfig
        {
            LearningRate = spec.LearningRate, Schedule = LrScheduleKind.Cosine, WarmupSteps = spec.WarmupSteps,
            MaxSteps = spec.PolicySteps, BatchSize = spec.BatchSize, MaxLength = spec.MaxPositions, Seed = spec.Seed,
        }))
            trainer.Train(sft, Steps("policy", spec.PolicySteps));

        // Reward model and judge start from the policy's weights, as InstructGPT's RM starts from the SFT model.
        Say("reward", "encoding");
        var pairs = corpus.RewardPairs(heldOut: false).Select(p => new PreferencePair(encoder.Exchange(p.Prompt, p.Chosen), encoder.Exchange(p.Prompt, p.Rejected))).ToList();
        Say("reward", $"{pairs.Count} pairs, {pairs.Average(p => p.ChosenIds.Length + p.RejectedIds.Length) / 2:0} tokens per sequence on average");
        using var reward = NewModel(config with { NumLabels = 1 }, spec.Seed + 1, policy);
        using (var trainer = new RewardTrainer(reward, new RewardConfig
        {
            LearningRate = spec.FineTuneLearningRate, Schedule = LrScheduleKind.Cosine, WarmupSteps = spec.WarmupSteps,
            MaxSteps = spec.RewardSteps, BatchSize = spec.BatchSize, MaxLength = spec.MaxPositions, Seed = spec.Seed + 1,
            CenterRewardsCoefficient = 0.01,   // keeps rewards near 0, so scores are comparable across rebuilds
        }))
            trainer.Train(pairs, Steps("reward", spec.RewardSteps));

        Say("judge", "encoding");
        var labelled = corpus.JudgeExamples(heldOut: false).Select(e => new ClassifierExample(encoder.Exchange(e.Prompt, e.Response), e.Unsafe ? 1 : 0)).ToList();
        Say("judge", $"{labelled.Count} examples, {labelled.Average(e => e.Ids.Length):0} tokens on average");
        using var judge = NewModel(config with { NumLabels = 2, LabelNames = LabelNames }, spec.Seed + 2, policy);
        using (var trainer = new ClassifierTrainer(judge, new ClassifierConfig
        {
            LearningRate = spec.FineTuneLearningRate, Schedule = LrScheduleKind.Cosine, WarmupSteps = spec.WarmupSteps,
            MaxSteps = spec.JudgeSteps, BatchSize = spec.BatchSize, MaxLength = spec.MaxPositions, Seed = spec.Seed + 2,
        }))
            trainer.Train(labelled, Steps("judge", spec.JudgeSteps));

        Say("save", "writing models and data");
        var paths = SandboxPaths.In(dir);
        HfModelSaver.Save(policy, paths.Policy, TensorDType.F32, WriteTokenizer);
        HfModelSaver.Save(reward, paths.Reward, TensorDType.F32, WriteTokenizer);
        HfModelSaver.Save(judge, paths.Judge, TensorDType.F32, WriteTokenizer);
        SandboxData.Write(paths.Data, corpus);

        Say("self-check", "measuring the reloaded models on held-out data");
        var check = SandboxSelfCheck.Run(paths.Policy, paths.Reward, paths.Judge, corpus, spec, m => Say("self-check", m));
        phases[phase!] = Math.Round(phaseClock.Elapsed.TotalSeconds, 1);
        return (corpus, check with { BuildSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1), PhaseSeconds = phases });
    }

    /// <summary>
    /// A fresh Llama with HF's initialisation (normal(0, 0.02) matrices, unit norms), seeded; when
    /// <paramref name="backbone"/> is given, every parameter they share is copied from it.
    /// </summary>
    static LlamaForCausalLM NewModel(TransformerConfig config, long seed, CausalLM? backbone = null)
    {
        var model = new LlamaForCausalLM(config);
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        using var noGrad = no_grad();
        var source = backbone?.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in model.named_parameters())
        {
            if (source is not null && source.TryGetValue(name, out var from) && from.shape.SequenceEqual(p.shape)) p.copy_(from);
            else if (p.dim() >= 2) p.normal_(0, 0.02, generator: generator);
        }
        return model;
    }

    /// <summary>The chat encodings training uses, exactly those inference uses (ChatEncoding), with a length check.</summary>
    sealed class ChatEncoder(ITokenizer tokenizer, int maxPositions)
    {
        readonly ChatTemplate _template = ChatTemplates.Detect(tokenizer.ChatTemplate);
        readonly int _imEnd = tokenizer.TokenToId(ImEnd) ?? throw new InvalidOperationException($"the sandbox tokenizer has no {ImEnd}");

        public int[] Exchange(string prompt, string response) => Fit(ChatEncoding.Exchange(tokenizer, _template, prompt, response), prompt);

        /// <summary>Prompt = the generation prompt; completion = the response through its &lt;|im_end|&gt;, so generation learns to stop.</summary>
        public SftExample Sft(string prompt, string response)
        {
            var p = ChatEncoding.Prompt(tokenizer, _template, prompt);
            var full = Exchange(prompt, response);
            if (!full.AsSpan(0, p.Length).SequenceEqual(p))
                throw new InvalidOperationException($"the exchange encoding does not start with the prompt encoding for \"{prompt}\"");
            int end = Array.LastIndexOf(full, _imEnd);
            return new SftExample(p, full[p.Length..(end + 1)]);
        }

        int[] Fit(int[] ids, string prompt) => ids.Length <= maxPositions ? ids
            : throw new InvalidOperationException($"sandbox spec: an exchange of {ids.Length} tokens exceeds MaxPositions = {maxPositions} (prompt \"{prompt}\")");
    }
}
