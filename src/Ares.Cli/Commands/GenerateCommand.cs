using System.CommandLine;
using Ares.Core.Tokenization;
using Ares.Models.Generation;
using Ares.Models.Loading;

namespace Ares.Cli.Commands;

/// <summary>`ares generate`: prints only the generated text to stdout.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text; \"\" starts from BOS alone", Required = true };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Tokens to generate at most", DefaultValueFactory = _ => 128 };
        var temperature = new Option<double>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "Sample from the k most likely tokens (0 = off)", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long?>("--seed", "-s") { Description = "Random seed for reproducible sampling" };
        var stop = new Option<string[]>("--stop") { Description = "Stop string (repeatable); the text is cut before it", AllowMultipleArgumentsPerToken = false };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as a user turn with the model's chat template" };
        var chatFormat = new Option<string?>("--chat-format") { Description = "Override the chat format: chatml, llama3, llama2, mistral, phi3, plain" };
        var dtype = CommonOptions.DType();
        var cmd = new Command("generate", "Generate a continuation of a prompt with a local model (HF directory or GGUF)")
        {
            model, prompt, maxNew, temperature, topK, topP, seed, stop, chat, chatFormat, dtype,
        };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            using var m = ModelLoader.Load(r.GetValue(model)!, CommonOptions.LoadOptions(r.GetValue(dtype)!, r.GetValue(chatFormat)));
            string text = r.GetValue(prompt) ?? "";
            var gen = new TextGenerator(m.Model, m.Tokenizer);
            int[] ids = r.GetValue(chat) ? m.EncodeChat([new ChatMessage("user", text)]) : gen.PromptIds(text);
            var result = gen.Generate([ids], new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNew), Temperature = r.GetValue(temperature), TopK = r.GetValue(topK),
                TopP = r.GetValue(topP), Seed = r.GetValue(seed), StopStrings = r.GetValue(stop) ?? [],
            })[0];
            Console.Out.Write(result.Text);
            Console.Out.Flush();
            return 0;
        }));
        return cmd;
    }
}
