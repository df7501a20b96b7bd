namespace Ares.RedTeam.Records;

/// <summary>One sampled policy response with its judge verdict and reward. Error set = the target failed.</summary>
internal sealed record ProbeResponse(
    int Sample, string? Text, string? FinishReason, string? Error,
    double? HarmProbability, string? JudgeRationale, double? Reward);
