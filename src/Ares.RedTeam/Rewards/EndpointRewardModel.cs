using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.RedTeam.Chat;

namespace Ares.RedTeam.Rewards;

/// <summary>
/// A reward model over HTTP (<see cref="ScoringApi.VllmPooling"/>, or <see cref="ScoringApi.TeiPredict"/>
/// with a one-label head). An exchange whose request failed after retries scores NaN: the prober
/// records it as a missing reward and the case as unscored, never as a number.
/// </summary>
internal sealed class EndpointRewardModel : IRewardModel
{
    readonly ScoringEndpoint _endpoint;

    public EndpointRewardModel(ScoringEndpoint endpoint)
    {
        if (endpoint.Api == ScoringApi.VllmClassify)
            throw new ArgumentException($"{endpoint.Url}: a reward model endpoint must be vllm-pooling or tei-predict (classify returns probabilities, not a reward)");
        _endpoint = endpoint;
    }

    public ModelIdentity Identity => _endpoint.Identity;
    public ScoringEndpoint Endpoint => _endpoint;

    /// <summary>Failure reasons of the exchanges that scored NaN, in order of occurrence (for the run log).</summary>
    public List<string> Failures { get; } = [];

    public IReadOnlyList<double> Score(IReadOnlyList<Exchange> exchanges)
    {
        var outcomes = _endpoint.ScoreAsync(exchanges).GetAwaiter().GetResult();
        var scores = new double[outcomes.Count];
        for (var i = 0; i < outcomes.Count; i++)
        {
            var o = outcomes[i];
            if (!o.Ok) { lock (Failures) Failures.Add(o.Error!); scores[i] = double.NaN; continue; }
            if (o.Values.Count != 1)
                throw new InvalidOperationException($"{_endpoint.Url}: a reward model must return one score, got {o.Values.Count} labels ({string.Join(", ", o.Labels)})");
            scores[i] = o.Values[0];
        }
        return scores;
    }

    public void Dispose() => _endpoint.Dispose();
}
