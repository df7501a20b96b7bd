using Spectre.Console;

namespace Ares.Cli.Commands;

/// <summary>One Spectre.Console progress bar around a long job; plain lines when output is redirected.</summary>
internal static class ConsoleProgress
{
    /// <summary>
    /// A console on the current Console.Out (so in-process tests can capture it); redirected output
    /// (logs, CI) gets 120 columns instead of Spectre's 80 so tables do not wrap.
    /// </summary>
    public static IAnsiConsole CreateConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (!console.Profile.Capabilities.Interactive) console.Profile.Width = Math.Max(console.Profile.Width, 120);
        return console;
    }

    /// <summary>
    /// Runs <paramref name="job"/> with a bar of <paramref name="total"/> steps. The job reports the
    /// absolute step count and a short status line.
    /// </summary>
    public static T Run<T>(IAnsiConsole console, string title, int total, Func<Action<int>, Action<string>, T> job)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            // Redirected (CI, logs): a line per tenth of the work instead of redraws.
            var lastTenth = -1;
            var status = "";
            return job(done =>
            {
                var tenth = total == 0 ? 10 : done * 10 / total;
                if (tenth == lastTenth) return;
                lastTenth = tenth;
                console.WriteLine($"{title}: {done}/{total} {status}");
            }, s => status = s);
        }
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(1, total));
                return job(done => task.Value = done, s => task.Description = $"{Markup.Escape(title)} [grey]{Markup.Escape(s)}[/]");
            });
    }
}
