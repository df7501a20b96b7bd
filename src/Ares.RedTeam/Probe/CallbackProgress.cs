namespace Ares.RedTeam.Probe;

/// <summary>
/// Progress reported synchronously on the reporting thread (unlike <see cref="Progress{T}"/>, which
/// posts to a synchronisation context and may deliver late or out of order in a console app).
/// </summary>
internal sealed class CallbackProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
