using System.Text;
using System.Text.RegularExpressions;

namespace Ares.Core.Tokenization;

/// <summary>The chat layouts Ares reproduces.</summary>
internal enum ChatFormat
{
    /// <summary>No template (base models): the messages' contents separated by blank lines, no role markers.</summary>
    Plain,
    /// <summary><c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> (Qwen, many fine-tunes).</summary>
    ChatML,
    /// <summary><c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>.</summary>
    Llama3,
    /// <summary><c>&lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt;…&lt;&lt;/SYS&gt;&gt; user [/INST] answer &lt;/s&gt;</c>.</summary>
    Llama2,
    /// <summary>Mistral 7B Instruct v0.1: <c>&lt;s&gt;[INST] user [/INST]answer&lt;/s&gt;</c> (Llama 2's [INST] without &lt;&lt;SYS&gt;&gt;).</summary>
    Mistral,
    /// <summary>Phi-3 / Phi-3.5 instruct: <c>&lt;|user|&gt;\ncontent&lt;|end|&gt;\n&lt;|assistant|&gt;\n</c>, system as <c>&lt;|system|&gt;</c>.</summary>
    Phi3,
    /// <summary>Gemma 2/3: <c>&lt;bos&gt;&lt;start_of_turn&gt;user\ncontent&lt;end_of_turn&gt;\n&lt;start_of_turn&gt;model\n</c>; no system role.</summary>
    Gemma,
}

internal sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A chat layout plus the details of the model's template that change the text: ChatML's default system prompt
/// (Qwen2.5), Qwen3's empty think block, Llama 3.1's "Cutting Knowledge Date" system preamble.
/// </summary>
/// <remarks>
/// BOS is written by the template side: the Llama formats start with the BOS text (<c>&lt;s&gt;</c>,
/// <c>&lt;|begin_of_text|&gt;</c>) as their Jinja templates do, so encode the result with
/// <c>addSpecialTokens: false</c> — the tokenizer matches that text as the BOS token (this is also what
/// transformers' apply_chat_template does). Roles are system, user and assistant.
/// </remarks>
internal sealed record ChatTemplate(ChatFormat Family)
{
    /// <summary>ChatML: the system prompt the template inserts when the conversation has none.</summary>
    public string? DefaultSystemPrompt { get; init; }
    /// <summary>ChatML (Qwen3): an assistant turn after the last user turn carries a (possibly empty) &lt;think&gt; block.</summary>
    public bool ThinkBlocks { get; init; }
    /// <summary>Llama 3.1+: the "Today Date" of the system preamble (the template's fallback date, pinned so prompts are reproducible).</summary>
    public string? TodayDate { get; init; }
    /// <summary>
    /// Set when the template ignores add_generation_prompt: true if it always ends with the assistant header (the first
    /// Meta-Llama-3-Instruct template did), false if it never writes one.
    /// </summary>
    public bool? FixedGenerationPrompt { get; init; }

    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        if (messages.Count == 0) throw new ArgumentException("a conversation needs at least one message", nameof(messages));
        foreach (var m in messages)
            if (m.Role is not ("system" or "user" or "assistant"))
                throw new ArgumentException($"chat role '{m.Role}' is not supported (system, user, assistant)", nameof(messages));
        addGenerationPrompt = FixedGenerationPrompt ?? addGenerationPrompt;
        return Family switch
        {
            ChatFormat.Plain => string.Join("\n\n", messages.Select(m => m.Content)),
            ChatFormat.ChatML => ChatML(messages, addGenerationPrompt),
            ChatFormat.Llama3 => Llama3(messages, addGenerationPrompt),
            ChatFormat.Llama2 => Llama2(messages),
            ChatFormat.Phi3 => Phi3(messages, addGenerationPrompt),
            ChatFormat.Gemma => Gemma(messages, addGenerationPrompt),
            _ => Mistral(messages),
        };
    }

    string ChatML(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder();
        if (DefaultSystemPrompt != null && (messages.Count == 0 || messages[0].Role != "system"))
            sb.Append("<|im_start|>system\n").Append(DefaultSystemPrompt).Append("<|im_end|>\n");
        // Qwen3's last_query_index: the last user turn that is not a wrapped tool response (else the last message).
        int lastUser = messages.Count - 1;
        for (int i = messages.Count - 1; i >= 0; i--)
        {
            string c = messages[i].Content;
            if (messages[i].Role == "user" && !(c.StartsWith("<tool_response>", StringComparison.Ordinal) && c.EndsWith("</tool_response>", StringComparison.Ordinal))) { lastUser = i; break; }
        }
        for (int i = 0; i < messages.Count; i++)
        {
            var (role, content) = (messages[i].Role, messages[i].Content);
            sb.Append("<|im_start|>").Append(role).Append('\n');
            if (role == "assistant" && ThinkBlocks)
            {
                // Qwen3: reasoning written inline as <think>…</think> is moved into the block (or dropped before the last query).
                string reasoning = "";
                if (content.Contains("</think>", StringComparison.Ordinal))
                {
                    string before = content[..content.IndexOf("</think>", StringComparison.Ordinal)].TrimEnd('\n');
                    reasoning = before[(before.LastIndexOf("<think>", StringComparison.Ordinal) is int k and >= 0 ? k + 7 : 0)..].TrimStart('\n');
                    content = content[(content.LastIndexOf("</think>", StringComparison.Ordinal) + 8)..].TrimStart('\n');
                }
                if (i > lastUser && (i == messages.Count - 1 || reasoning.Length > 0))
                    sb.Append("<think>\n").Append(reasoning.Trim('\n')).Append("\n</think>\n\n").Append(content.TrimStart('\n'));
                else sb.Append(content);
            }
            else sb.Append(content);
            sb.Append("<|im_end|>\n");
        }
        if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
        return sb.ToString();
    }

    string Llama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder("<|begin_of_text|>");
        void Turn(string role, string content) =>
            sb.Append("<|start_header_id|>").Append(role).Append("<|end_header_id|>\n\n").Append(content).Append("<|eot_id|>");
        int first = 0;
        if (TodayDate != null)
        {
            // Llama 3.1+ always opens with a system turn: the preamble, then the (trimmed) system message if any.
            string system = messages.Count > 0 && messages[0].Role == "system" ? messages[first++].Content.Trim() : "";
            Turn("system", $"Cutting Knowledge Date: December 2023\nToday Date: {TodayDate}\n\n{system}");
        }
        for (int i = first; i < messages.Count; i++) Turn(messages[i].Role, messages[i].Content.Trim());
        if (addGenerationPrompt) sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return sb.ToString();
    }

    /// <summary>
    /// Phi-3 instruct (the mid-2024 template of Phi-3-mini/medium and Phi-3.5): each turn is
    /// <c>&lt;|role|&gt;\ncontent&lt;|end|&gt;\n</c>, then <c>&lt;|assistant|&gt;\n</c> when prompting. Without a generation
    /// prompt the template appends the tokenizer's eos_token; Ares leaves it to the caller (it knows the id, not the text).
    /// </summary>
    static string Phi3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder();
        foreach (var m in messages) sb.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append("<|end|>\n");
        if (addGenerationPrompt) sb.Append("<|assistant|>\n");
        return sb.ToString();
    }

    /// <summary>Llama 2 chat: the system prompt goes inside the first [INST] in &lt;&lt;SYS&gt;&gt;; the prompt already ends where the answer starts.</summary>
    static string Llama2(IReadOnlyList<ChatMessage> messages)
    {
        var (system, turns) = SplitSystem(messages);
        var sb = new StringBuilder();
        for (int i = 0; i < turns.Count; i++)
        {
            string content = i == 0 && system != null ? $"<<SYS>>\n{system}\n<</SYS>>\n\n{turns[i].Content}" : turns[i].Content;
            if (turns[i].Role == "user") sb.Append("<s>[INST] ").Append(content.Trim()).Append(" [/INST]");
            else sb.Append(' ').Append(content.Trim()).Append(" </s>");
        }
        return sb.ToString();
    }

    /// <summary>
    /// Mistral 7B Instruct v0.1. Its template rejects system messages; Ares puts one before the first user message,
    /// separated by a blank line, as Mistral's later templates do.
    /// </summary>
    static string Mistral(IReadOnlyList<ChatMessage> messages)
    {
        var (system, turns) = SplitSystem(messages);
        var sb = new StringBuilder("<s>");
        for (int i = 0; i < turns.Count; i++)
        {
            string content = i == 0 && system != null ? $"{system}\n\n{turns[i].Content}" : turns[i].Content;
            if (turns[i].Role == "user") sb.Append("[INST] ").Append(content).Append(" [/INST]");
            else sb.Append(content).Append("</s>");
        }
        return sb.ToString();
    }

    /// <summary>
    /// Gemma: the assistant is called "model", contents are trimmed, and a system message (which Gemma 2's template
    /// rejects) is folded into the first user turn followed by a blank line, as Gemma 3's template does.
    /// </summary>
    static string Gemma(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var (system, turns) = SplitSystem(messages);
        var sb = new StringBuilder("<bos>");
        for (int i = 0; i < turns.Count; i++)
        {
            string content = i == 0 && system != null ? $"{system.Trim()}\n\n{turns[i].Content.Trim()}" : turns[i].Content.Trim();
            sb.Append("<start_of_turn>").Append(turns[i].Role == "assistant" ? "model" : "user").Append('\n').Append(content).Append("<end_of_turn>\n");
        }
        if (addGenerationPrompt) sb.Append("<start_of_turn>model\n");
        return sb.ToString();
    }

    /// <summary>An optional leading system message, then turns that must alternate user/assistant (the [INST] templates raise otherwise).</summary>
    static (string? System, IReadOnlyList<ChatMessage> Turns) SplitSystem(IReadOnlyList<ChatMessage> messages)
    {
        string? system = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content : null;
        var turns = messages.Skip(system != null ? 1 : 0).ToList();
        for (int i = 0; i < turns.Count; i++)
            if ((turns[i].Role == "user") != (i % 2 == 0))
                throw new ArgumentException("after the optional system message, conversation roles must alternate user/assistant/user/…", nameof(messages));
        return (system, turns);
    }
}

/// <summary>Recognises a model's chat template family from its Jinja text, or takes an explicit choice.</summary>
internal static partial class ChatTemplates
{
    public const string Names = "chatml, llama3, llama3.1, llama2, mistral, phi3, gemma, plain";

    /// <summary>A plain ChatML Jinja template (Qwen2's, without a default system prompt), for tokenizers Ares writes itself.</summary>
    public const string ChatMLJinja =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>
    /// The family of a Jinja chat template, recognised by its distinctive markers; <see cref="ChatFormat.Plain"/> when
    /// there is no template.
    /// </summary>
    /// <exception cref="NotSupportedException">The template matches no family, or a variant whose text Ares would not reproduce; the message says which.</exception>
    public static ChatTemplate Detect(string? chatTemplate)
    {
        if (string.IsNullOrWhiteSpace(chatTemplate)) return new ChatTemplate(ChatFormat.Plain);
        string t = chatTemplate;
        if (t.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            var m = DefaultSystem().Match(t);
            return new ChatTemplate(ChatFormat.ChatML)
            {
                DefaultSystemPrompt = m.Success ? Regex.Unescape(m.Groups["prompt"].Value) : null,
                ThinkBlocks = t.Contains("reasoning_content", StringComparison.Ordinal) && t.Contains("<think>", StringComparison.Ordinal),
                FixedGenerationPrompt = FixedGenerationPrompt(t, "<|im_start|>assistant"),
            };
        }
        if (t.Contains("<|start_header_id|>", StringComparison.Ordinal) && t.Contains("<|eot_id|>", StringComparison.Ordinal))
        {
            var llama3 = new ChatTemplate(ChatFormat.Llama3) { FixedGenerationPrompt = FixedGenerationPrompt(t, "<|start_header_id|>assistant<|end_header_id|>") };
            if (!t.Contains("Cutting Knowledge Date", StringComparison.Ordinal)) return llama3;
            var date = DateString().Match(t);
            return date.Success ? llama3 with { TodayDate = date.Groups["date"].Value }
                : throw Unrecognised(t, "a Llama 3.1-style template whose fallback date_string Ares cannot find");
        }
        // Gemma's templates rename the assistant: a <start_of_turn> template without the model turn writes other text.
        if (t.Contains("<start_of_turn>model", StringComparison.Ordinal) && t.Contains("<end_of_turn>", StringComparison.Ordinal))
            return new ChatTemplate(ChatFormat.Gemma) { FixedGenerationPrompt = FixedGenerationPrompt(t, "<start_of_turn>model") };
        if (t.Contains("[INST]", StringComparison.Ordinal))
        {
            if (t.Contains("<<SYS>>", StringComparison.Ordinal)) return new ChatTemplate(ChatFormat.Llama2);
            if (t.Contains("[AVAILABLE_TOOLS]", StringComparison.Ordinal) || t.Contains("' [INST] '", StringComparison.Ordinal) || t.Contains("\" [INST] \"", StringComparison.Ordinal))
                throw Unrecognised(t, "a later Mistral [INST] variant (different spacing or system placement than v0.1)");
            return new ChatTemplate(ChatFormat.Mistral);
        }
        if (t.Contains("<|user|>", StringComparison.Ordinal) && t.Contains("<|end|>", StringComparison.Ordinal) && t.Contains("<|assistant|>", StringComparison.Ordinal))
        {
            // The first Phi-3 template opened with bos_token, dropped system messages and wrote <|assistant|> after every user turn.
            if (t.Contains("bos_token", StringComparison.Ordinal))
                throw Unrecognised(t, "an early Phi-3 template (BOS first, system messages dropped, <|assistant|> after every user turn)");
            return new ChatTemplate(ChatFormat.Phi3) { FixedGenerationPrompt = FixedGenerationPrompt(t, "'<|assistant|>\\n'") };
        }
        throw Unrecognised(t, "none of the markers <|im_start|> (ChatML), <|start_header_id|> + <|eot_id|> (Llama 3), [INST] (Llama 2 / Mistral), <|user|> + <|end|> (Phi-3), <start_of_turn>model + <end_of_turn> (Gemma) occurs in it");
    }

    /// <summary>An explicit choice (e.g. from the command line), overriding detection.</summary>
    public static ChatTemplate Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "chatml" => new ChatTemplate(ChatFormat.ChatML),
        "llama3" => new ChatTemplate(ChatFormat.Llama3),
        "llama3.1" => new ChatTemplate(ChatFormat.Llama3) { TodayDate = "26 Jul 2024" }, // Meta's template fallback
        "llama2" => new ChatTemplate(ChatFormat.Llama2),
        "mistral" => new ChatTemplate(ChatFormat.Mistral),
        "phi3" => new ChatTemplate(ChatFormat.Phi3),
        "gemma" => new ChatTemplate(ChatFormat.Gemma),
        "plain" => new ChatTemplate(ChatFormat.Plain),
        _ => throw new ArgumentException($"unknown chat format '{name}' (expected one of: {Names})", nameof(name)),
    };

    /// <summary>Null when the template reads add_generation_prompt; otherwise whether it writes the assistant header anyway.</summary>
    static bool? FixedGenerationPrompt(string template, string assistantHeader) =>
        template.Contains("add_generation_prompt", StringComparison.Ordinal) ? null : template.Contains(assistantHeader, StringComparison.Ordinal);

    static NotSupportedException Unrecognised(string template, string why)
    {
        string start = template.Length > 80 ? template[..80] + "…" : template;
        return new NotSupportedException($"chat template not recognised: {why}. It starts: \"{start.ReplaceLineEndings(" ")}\". Choose a chat format explicitly ({Names}).");
    }

    // '<|im_start|>system\nYou are …<|im_end|>\n' as one Jinja string literal: the prompt used when none is given.
    [GeneratedRegex(@"(?<q>['""])<\|im_start\|>system\\n(?<prompt>(?:(?!\k<q>)[^\\]|\\.)*?)<\|im_end\|>\\n\k<q>")]
    private static partial Regex DefaultSystem();

    [GeneratedRegex(@"set date_string = ['""](?<date>[^'""]+)['""]")]
    private static partial Regex DateString();
}
