using Ares.RedTeam.Repair;
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

    /// <summary>
    /// Runs a multi-stage <paramref name="job"/> (demo, repair rounds) with one bar per stage, each
    /// captioned with the stage's latest numbers; redirected output gets a line per tenth of each stage.
    /// </summary>
    public static T Stages<T>(IAnsiConsole console, Func<Action<StageProgress>, T> job)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            var lastTenth = new Dictionary<string, int>();
            return job(p =>
            {
                var tenth = p.Total == 0 ? 10 : p.Done * 10 / p.Total;
                if (lastTenth.TryGetValue(p.Stage, out var last) && last == tenth) return;
                lastTenth[p.Stage] = tenth;
                console.WriteLine($"{p.Stage}: {p.Done}/{p.Total} {p.Status}");
            });
        }
        return console.Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var result = job(p =>
                {
                    if (!tasks.TryGetValue(p.Stage, out var task)) task = tasks[p.Stage] = ctx.AddTask(Markup.Escape(p.Stage), maxValue: Math.Max(1, p.Total));
                    task.Value = p.Done;
                    task.Description = p.Status.Length == 0 ? Markup.Escape(p.Stage) : $"{Markup.Escape(p.Stage)} [grey]{Markup.Escape(p.Status)}[/]";
                });
                foreach (var t in tasks.Values) t.Value = t.MaxValue;
                return result;
            });
    }
}
