using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Ares.RedTeam.Chat;

/// <summary>Attempts and retries one endpoint has made, shared by its HTTP pipeline and the model that reports them.</summary>
internal sealed class EndpointTraffic
{
    long _attempts, _retries;
    public long Attempts => Interlocked.Read(ref _attempts);
    public long Retries => Interlocked.Read(ref _retries);
    internal void CountAttempt() => Interlocked.Increment(ref _attempts);
    internal void CountRetry() => Interlocked.Increment(ref _retries);
}
