using System.CommandLine;
using Ares.Cli.Commands;

namespace Ares.Cli;

internal static class Program
{
    internal static int Main(string[] args)
    {
        var root = new RootCommand("""
            Ares: red-team and repair the policy–reward systems behind RLHF-aligned language models.
            Models load from Hugging Face directories (config.json + safetensors + tokenizer.json) or GGUF files.
            """);
        root.Add(GenerateCommand.Create());
        root.Add(TokenizeCommand.Create());
        root.Add(ModelCommand.Create());
        root.Add(BenchCommand.Create());
        root.Add(SandboxCommand.Create());
        root.Add(ProbeCommand.Create());
        root.Add(DemoCommand.Create());
        root.Add(RepairCommand.Create());
        root.Add(ExportCommand.Create());
        root.Add(ServeCommand.Create());
        root.Add(ReportCommand.Create());
        root.Add(AttackCommands.Create());
        root.Add(SafetyTuneCommand.Create());
        root.Add(DatasetsCommand.Create());
        root.Add(EvalCommand.Create());
        return root.Parse(args).Invoke();
    }
}
