using Ares.Core.Formats;

namespace Ares.Cli.Commands;

/// <summary>Turns expected failures (bad input, unsupported models) into one clear line on stderr and exit code 2.</summary>
internal static class CliErrors
{
    /// <remarks>
    /// Data files (JSONL seeds, preference pairs, eval results) report a bad row as InvalidDataException
    /// or FormatException naming file:line: those are bad input too, not crashes.
    /// </remarks>
    public static int Run(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is ModelFormatException or NotSupportedException or FileNotFoundException
                                      or DirectoryNotFoundException or ArgumentException or InvalidOperationException or IOException
                                      or InvalidDataException or FormatException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
