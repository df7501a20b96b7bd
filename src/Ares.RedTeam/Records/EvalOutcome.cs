namespace Ares.RedTeam.Records;

/// <summary>What a benchmark judge decided about one response: the attack succeeded (harmful), failed (safe), or could not be scored.</summary>
internal enum EvalOutcome { Safe, Harmful, Unscored }
