using Ares.Core.Tokenization;

namespace Ares.Core.Tests.Tokenization;

public class GemmaChatTemplateTests
{
    // google/gemma-2-2b-it's chat_template (tokenizer_config.json), as published.
    const string Gemma2Template =
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        + "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        + "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
        + "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
        + "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

    [Fact]
    public void Gemma_turns_are_user_and_model_with_trimmed_contents()
    {
        var t = ChatTemplates.Detect(Gemma2Template);
        Assert.Equal(ChatFormat.Gemma, t.Family);
        string text = t.Format([new("user", " Hi "), new("assistant", "Hello.\n"), new("user", "Bye")], addGenerationPrompt: true);
        Assert.Equal("<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
            + "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n", text);
        Assert.Equal("<bos><start_of_turn>user\nHi<end_of_turn>\n", t.Format([new("user", "Hi")], addGenerationPrompt: false));
    }

    [Fact]
    public void A_system_prompt_is_folded_into_the_first_user_turn_as_Gemma_3_does()
    {
        var t = ChatTemplates.Parse("gemma");
        Assert.Equal("<bos><start_of_turn>user\nBe brief.\n\nWhy?<end_of_turn>\n<start_of_turn>model\n",
            t.Format([new("system", "Be brief."), new("user", "Why?")], addGenerationPrompt: true));
        Assert.Throws<ArgumentException>(() => t.Format([new("user", "a"), new("user", "b")], addGenerationPrompt: true));
    }
}
