namespace Ares.Core.Tokenization;

/// <summary>
/// Text ↔ token ids for one model. Implementations follow the rules in the model's own files
/// (tokenizer.json, or GGUF metadata) rather than any particular model's quirks.
/// </summary>
internal interface ITokenizer
{
    /// <summary>Short description for `ares model info`, e.g. "hf byte-level BPE" or "gguf llama (SentencePiece BPE, byte fallback)".</summary>
    string Kind { get; }

    /// <summary>Number of ids (base vocabulary plus added tokens); every id produced is below it.</summary>
    int VocabSize { get; }

    int? BosId { get; }
    int? EosId { get; }
    int? PadId { get; }

    /// <summary>Ids that end generation: EOS plus end-of-turn tokens such as &lt;|im_end|&gt; or &lt;|eot_id|&gt;.</summary>
    IReadOnlySet<int> StopIds { get; }

    /// <summary>
    /// Encodes text. With <paramref name="addSpecialTokens"/>, adds what the tokenizer's post-processor
    /// adds (e.g. BOS for Llama 2 / Mistral, nothing for Qwen). Special tokens written in the text
    /// (e.g. "&lt;|im_start|&gt;") are matched as special tokens.
    /// </summary>
    int[] Encode(string text, bool addSpecialTokens = true);

    /// <summary>Decodes ids to text; special tokens are dropped when <paramref name="skipSpecialTokens"/>.</summary>
    string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true);

    /// <summary>The token's string as stored in the vocabulary (e.g. "▁the", "Ġthe", "&lt;0x0A&gt;").</summary>
    string IdToToken(int id);

    int? TokenToId(string token);

    bool IsSpecial(int id);

    /// <summary>The model's Jinja chat template, if its files carry one (see <see cref="ChatTemplates.Detect"/>).</summary>
    string? ChatTemplate { get; }
}

/// <summary>Conventions shared by the tokenizer formats.</summary>
internal static class TokenizerConventions
{
    /// <summary>End-of-turn tokens of the common chat formats (ChatML, Llama 3, Phi-3, Gemma); generation stops at them.</summary>
    public static readonly string[] EndOfTurnTokens = ["<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>"];

    /// <summary>EOS, any extra ids given, and the end-of-turn tokens this vocabulary has.</summary>
    public static IReadOnlySet<int> StopIds(int? eos, Func<string, int?> tokenToId, params int?[] extra)
    {
        var ids = new HashSet<int>();
        foreach (var id in extra.Prepend(eos).Concat(EndOfTurnTokens.Select(tokenToId)))
            if (id is int i) ids.Add(i);
        return ids;
    }
}
