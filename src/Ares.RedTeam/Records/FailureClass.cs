namespace Ares.RedTeam.Records;

/// <summary>
/// The four-class taxonomy of a probed case (ARES §Discovery), plus <see cref="Unscored"/> for a
/// case where no policy response could be judged (target errors or unscoreable verdicts). Unscored
/// cases stay in every denominator.
/// </summary>
internal enum FailureClass { Robust, PolicyOnly, RmOnly, Systemic, Unscored }
