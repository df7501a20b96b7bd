using Ares.Models.Loading;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Rewards;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Probe;

/// <summary>What a finished probe run produced.</summary>
internal sealed record ProbeRunResult(RunInfo Run, string StorePath, IReadOnlyList<ProbeCase> Cases, TaxonomyReport Report,
    PlantedWeaknessReport? Planted, Proportion? JudgeAgreement = null);

/// <summary>Runs (or resumes) the probe a config describes against its run store.</summary>
internal static class ProbeRunner
{
    public static ProbeRunResult Run(ProbeConfig config, bool resume, Func<string, IModelWorld> sandbox,
        IProgress<ProbeProgress>? progress = null, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(config.StorePath)!);
        using var store = RunStore.Open(config.StorePath);
        var existing = store.RunToContinue(config.StorePath, config.RunId, resume, config.Source, config.NormalisedJson);

        using var parts = ProbeComponents.Create(config, sandbox);
        var run = existing ?? new RunInfo
        {
            RunId = config.RunId, ConfigJson = config.NormalisedJson, Seed = config.Options.Seed, AresVersion = AresRelease.Version,
            Policy = parts.Policy.Identity, RewardModel = parts.RewardModel.Identity, Judge = parts.Judge.Identity, Mentor = parts.Mentor.Identity,
            CatalogVersion = parts.Catalog.Version, Budget = config.Options.Budget, CreatedUtc = DateTime.UtcNow,
        };
        if (existing is null) store.CreateRun(run);
        else CheckSameModels(existing, parts);
        store.SetStatus(run.RunId, "running");

        var prober = new Prober(parts.Catalog, parts.Mentor, parts.Policy, parts.RewardModel, parts.Judge, config.Options);
        var cases = prober.RunAsync(store.LoadCases(run.RunId), c => store.SaveCase(run.RunId, c), progress, ct).GetAwaiter().GetResult();
        store.SetStatus(run.RunId, "complete");

        var planted = parts.World?.Grade(cases);
        Proportion? agreement = parts.World?.JudgeAgreement(cases);
        return new ProbeRunResult(store.GetRun(run.RunId)!, config.StorePath, cases, TaxonomyReport.Build(cases), planted, agreement);
    }

    /// <summary>A resumed run must probe the same models: their content hashes are compared.</summary>
    static void CheckSameModels(RunInfo run, ProbeComponents parts)
    {
        foreach (var (role, stored, now) in new[] { ("policy", run.Policy, parts.Policy.Identity), ("reward model", run.RewardModel, parts.RewardModel.Identity),
            ("judge", run.Judge, parts.Judge.Identity) })
            if (stored != now)
                throw new InvalidOperationException($"run '{run.RunId}': the {role} has changed since the run started ({stored} → {now}); start a new run");
    }
}
