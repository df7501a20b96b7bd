namespace Ares.RedTeam.Records;

/// <summary>A prompt and one response to it: what judges and reward models look at.</summary>
internal sealed record Exchange(string Prompt, string Response);
