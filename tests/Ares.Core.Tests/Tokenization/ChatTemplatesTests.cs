using Ares.Core.Tokenization;

namespace Ares.Core.Tests.Tokenization;

public class ChatTemplatesTests
{
    static readonly ChatMessage[] SystemUser = [new("system", "Be brief."), new("user", "Hi!")];

    // Representative templates as the model repositories ship them (Jinja source, after JSON unescaping).
    const string Llama3Template =
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
    const string Llama31Template =
        "{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n{%- endif %}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}";
    const string Llama2Template =
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
    const string MistralTemplate =
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
    const string Qwen25Fragment =
        "{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}";

    [Fact]
    public void Qwen3_fixture_template_is_ChatML_with_think_blocks()
    {
        var template = ChatTemplates.Detect(HfTokenizerGoldenTests.Get("qwen3").ChatTemplate);
        Assert.Equal(new ChatTemplate(ChatFormat.ChatML) { ThinkBlocks = true }, template);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
            template.Format(SystemUser, addGenerationPrompt: true));
        // A finished assistant turn after the last question carries an empty think block; earlier ones lose their reasoning.
        ChatMessage[] chat = [new("user", "A?"), new("assistant", "<think>\nhmm\n</think>\n\nA."), new("user", "B?"), new("assistant", "B.")];
        Assert.Equal("<|im_start|>user\nA?<|im_end|>\n<|im_start|>assistant\nA.<|im_end|>\n<|im_start|>user\nB?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\n\n</think>\n\nB.<|im_end|>\n", template.Format(chat, addGenerationPrompt: false));
    }

    [Fact]
    public void ChatML_default_system_prompt_is_taken_from_the_template()
    {
        var template = ChatTemplates.Detect(Qwen25Fragment);
        Assert.Equal("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", template.DefaultSystemPrompt);
        Assert.StartsWith("<|im_start|>system\nYou are Qwen", template.Format([new("user", "Hi")], true));
        Assert.StartsWith("<|im_start|>system\nBe brief.<|im_end|>", template.Format(SystemUser, true));
    }

    [Fact]
    public void Llama3_writes_BOS_headers_and_trimmed_contents()
    {
        var template = ChatTemplates.Detect(Llama3Template);
        Assert.Equal(ChatFormat.Llama3, template.Family);
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            template.Format([new("system", " Be brief.\n"), new("user", "Hi!")], addGenerationPrompt: true));
    }

    [Fact]
    public void A_template_that_ignores_add_generation_prompt_is_reproduced_as_written()
    {
        // The first Meta-Llama-3-8B-Instruct template always ends with the assistant header.
        const string original =
            "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}";
        var template = ChatTemplates.Detect(original);
        Assert.True(template.FixedGenerationPrompt);
        Assert.EndsWith("<|start_header_id|>assistant<|end_header_id|>\n\n", template.Format([new("user", "Hi!")], addGenerationPrompt: false));
    }

    [Fact]
    public void Llama31_always_opens_with_the_dated_system_preamble()
    {
        var template = ChatTemplates.Detect(Llama3Template + Llama31Template);
        Assert.Equal("26 Jul 2024", template.TodayDate);
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>", template.Format([new("user", "Hi!")], addGenerationPrompt: false));
    }

    [Fact]
    public void Llama2_puts_the_system_prompt_inside_the_first_instruction()
    {
        var template = ChatTemplates.Detect(Llama2Template);
        Assert.Equal(ChatFormat.Llama2, template.Family);
        ChatMessage[] chat = [.. SystemUser, new("assistant", "Hello."), new("user", "Bye")];
        Assert.Equal("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] Bye [/INST]", template.Format(chat, addGenerationPrompt: true));
        Assert.Throws<ArgumentException>(() => template.Format([new("user", "a"), new("user", "b")], true));
    }

    [Fact]
    public void Mistral_uses_INST_without_SYS_and_puts_a_system_prompt_before_the_first_question()
    {
        var template = ChatTemplates.Detect(MistralTemplate);
        Assert.Equal(ChatFormat.Mistral, template.Family);
        ChatMessage[] chat = [new("user", "Hi!"), new("assistant", "Hello."), new("user", "Bye")];
        Assert.Equal("<s>[INST] Hi! [/INST]Hello.</s>[INST] Bye [/INST]", template.Format(chat, addGenerationPrompt: true));
        Assert.Equal("<s>[INST] Be brief.\n\nHi! [/INST]", template.Format(SystemUser, addGenerationPrompt: true));
    }

    [Fact]
    public void No_template_means_plain_text()
    {
        var template = ChatTemplates.Detect(null);
        Assert.Equal(ChatFormat.Plain, template.Family);
        Assert.Equal("Be brief.\n\nHi!", template.Format(SystemUser, addGenerationPrompt: true));
    }

    [Fact]
    public void Unknown_templates_are_reported_not_guessed()
    {
        var e = Assert.Throws<NotSupportedException>(() => ChatTemplates.Detect("{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>{% endfor %}"));
        Assert.Contains("not recognised", e.Message);
        Assert.Contains("<start_of_turn>", e.Message);
        Assert.Contains("chatml", e.Message);
        Assert.Throws<NotSupportedException>(() => ChatTemplates.Detect("{{ bos_token }}[AVAILABLE_TOOLS] [INST] {{ m }}[/INST]"));
    }

    // Phi-3-mini-4k-instruct's template since its mid-2024 update (also Phi-3.5-mini-instruct).
    const string Phi3Template =
        "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";

    [Fact]
    public void Phi3_template_writes_role_tags_closed_by_end_and_opens_the_assistant_turn()
    {
        var template = ChatTemplates.Detect(Phi3Template);
        Assert.Equal(new ChatTemplate(ChatFormat.Phi3), template);
        Assert.Equal("<|system|>\nBe brief.<|end|>\n<|user|>\nHi!<|end|>\n<|assistant|>\n", template.Format(SystemUser, addGenerationPrompt: true));
        Assert.Equal("<|user|>\nA?<|end|>\n<|assistant|>\nA.<|end|>\n",
            template.Format([new("user", "A?"), new("assistant", "A.")], addGenerationPrompt: false));
    }

    [Fact]
    public void The_early_Phi3_template_that_drops_system_messages_is_refused_by_name()
    {
        const string early = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}";
        var e = Assert.Throws<NotSupportedException>(() => ChatTemplates.Detect(early));
        Assert.Contains("early Phi-3", e.Message);
    }

    [Theory]
    [InlineData("phi3", "Phi3")]
    [InlineData("chatml", "ChatML")]
    [InlineData("Llama3", "Llama3")]
    [InlineData("llama2", "Llama2")]
    [InlineData("mistral", "Mistral")]
    [InlineData(" plain ", "Plain")]
    public void Explicit_formats_are_parsed_by_name(string name, string family)
    {
        Assert.Equal(Enum.Parse<ChatFormat>(family), ChatTemplates.Parse(name).Family);
    }

    [Fact]
    public void An_unknown_format_name_lists_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => ChatTemplates.Parse("vicuna"));
        Assert.Contains("chatml, llama3", e.Message);
    }

    [Fact]
    public void Formatted_prompts_encode_with_the_template_supplying_BOS()
    {
        var qwen = HfTokenizerGoldenTests.Get("qwen3");
        var ids = qwen.Encode(ChatTemplates.Parse("chatml").Format(SystemUser, true), addSpecialTokens: false);
        Assert.Equal(151_644, ids[0]);
        Assert.Equal(2, ids.Count(id => id == 151_645));
        var mistral = HfTokenizerGoldenTests.Get("mistral");
        var m = mistral.Encode(ChatTemplates.Parse("mistral").Format([new("user", "Hi!")], true), addSpecialTokens: false);
        Assert.Equal(1, m[0]);
        Assert.Equal(1, m.Count(id => id == 1));
    }
}
