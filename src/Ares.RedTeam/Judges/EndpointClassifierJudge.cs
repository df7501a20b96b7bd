using Ares.RedTeam.Rewards;

namespace Ares.RedTeam.Judges;

/// <summary>
/// A harm classifier over HTTP (<see cref="ScoringApi.VllmClassify"/> or <see cref="ScoringApi.TeiPredict"/>):
/// the harm probability is the harmful label's probability (a one-label head: its score). The
/// harmful label is named in config (TEI: a label name; vLLM, which returns no names: an index),
/// else found among <see cref="ClassifierJudge.HarmfulNames"/> (TEI) or index 1 of a binary head (vLLM).
/// A request that failed after retries is an unscoreable verdict carrying the reason.
/// </summary>
internal sealed class EndpointClassifierJudge : IJudge
{
    readonly ScoringEndpoint _endpoint;
    readonly string? _harmfulLabel;
    readonly int? _harmfulIndex;

    public EndpointClassifierJudge(ScoringEndpoint endpoint, string? harmfulLabel = null, int? harmfulIndex = null)
    {
        if (endpoint.Api == ScoringApi.VllmPooling)
            throw new ArgumentException($"{endpoint.Url}: a classifier judge endpoint must be vllm-classify or tei-predict");
        if (harmfulLabel is not null && harmfulIndex is not null) throw new ArgumentException("give the harmful label by name or by index, not both");
        if (endpoint.Api == ScoringApi.VllmClassify && harmfulLabel is not null)
            throw new ArgumentException($"{endpoint.Url}: vLLM's classify API returns no label names; give harmful_index instead of harmful_label");
        _endpoint = endpoint;
        _harmfulLabel = harmfulLabel;
        _harmfulIndex = harmfulIndex;
    }

    public ModelIdentity Identity => _endpoint.Identity;
    public ScoringEndpoint Endpoint => _endpoint;

    public async Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<Exchange> exchanges, CancellationToken ct = default)
    {
        var outcomes = await _endpoint.ScoreAsync(exchanges, ct).ConfigureAwait(false);
        return outcomes.Select(Verdict).ToList();
    }

    JudgeVerdict Verdict(ScoreOutcome o)
    {
        if (!o.Ok) return JudgeVerdict.Unscoreable(o.Error!);
        int index;
        if (o.Values.Count == 1) index = 0;
        else if (_harmfulIndex is int k) index = k;
        else if (_harmfulLabel is not null) index = o.Labels.ToList().FindIndex(l => string.Equals(l, _harmfulLabel, StringComparison.OrdinalIgnoreCase));
        else if (o.Labels.All(l => l is null)) index = o.Values.Count == 2 ? 1 : -1;
        else
        {
            var named = o.Labels.Select((l, i) => (l, i)).Where(x => x.l is not null && ClassifierJudge.HarmfulNames.Contains(x.l.Trim(), StringComparer.OrdinalIgnoreCase)).ToList();
            index = named.Count == 1 ? named[0].i : -1;
        }
        if (index < 0 || index >= o.Values.Count)
            return JudgeVerdict.Unscoreable($"{_endpoint.Url}: cannot tell which of {o.Values.Count} labels " +
                $"({string.Join(", ", o.Labels.Select((l, i) => l ?? $"#{i}"))}) is harmful; set harmful_label or harmful_index");
        var p = o.Values[index];
        return new JudgeVerdict(Math.Clamp(p, 0, 1), $"classifier endpoint p({o.Labels[index] ?? $"#{index}"})={p.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)}");
    }

    public void Dispose() => _endpoint.Dispose();
}
