using System.CommandLine;
using Ares.Models.Loading;

namespace Ares.Cli.Commands;

/// <summary>`ares tokenize`: prints token ids, space-separated, including BOS where the model adds one.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var text = new Option<string>("--text") { Description = "Text to tokenize", Required = true };
        var noSpecial = new Option<bool>("--no-special") { Description = "Do not add special tokens (BOS/EOS) the tokenizer would add" };
        var pieces = new Option<bool>("--pieces") { Description = "Also print each token's vocabulary string on stderr" };
        var cmd = new Command("tokenize", "Print the token ids of a text under a model's tokenizer") { model, text, noSpecial, pieces };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var tokenizer = TokenizerLoader.Load(r.GetValue(model)!);
            var ids = tokenizer.Encode(r.GetValue(text) ?? "", addSpecialTokens: !r.GetValue(noSpecial));
            Console.Out.WriteLine(string.Join(' ', ids));
            if (r.GetValue(pieces)) Console.Error.WriteLine(string.Join(' ', ids.Select(i => tokenizer.IdToToken(i))));
            return 0;
        }));
        return cmd;
    }
}
