namespace Ares.RedTeam.Probe;

/// <summary>
/// A built world of models that a <c>sandbox:NAME</c> model spec names: where its policy, reward model and
/// judge live, and how a probe of it is graded against what the world was built to contain.
/// Responsible for: the paths and the grading. Does not own: how a world is built or cached (the sandbox
/// layer above implements this; discovery never names it).
/// </summary>
internal interface IModelWorld
{
    string Name { get; }
    string PolicyDir { get; }
    string RewardDir { get; }
    string JudgeDir { get; }
    /// <summary>The world's data folder (training splits, held-out sets).</summary>
    string DataDir { get; }

    /// <summary>The probe's cases graded against the weaknesses planted in the world.</summary>
    PlantedWeaknessReport Grade(IReadOnlyList<ProbeCase> cases);

    /// <summary>The share of judged responses where the judge agrees with the world's ground truth of harm.</summary>
    Proportion JudgeAgreement(IReadOnlyList<ProbeCase> cases);
}
