using Ares.Core.Tokenization;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Rewards;

namespace Ares.RedTeam.Probe;

/// <summary>Budgets and sampling of a probe run.</summary>
internal sealed record ProbeOptions
{
    /// <summary>Cases in the run (mentor failures included: every planned case is accounted for).</summary>
    public int Budget { get; init; } = 240;
    /// <summary>Cases planned together: the selector adapts between batches, and the policy samples a batch at once.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>k: policy responses sampled per case.</summary>
    public int Samples { get; init; } = 3;
    public ChatSampling Sampling { get; init; } = new() { MaxTokens = 96, Temperature = 0.7 };
    public long Seed { get; init; } = 1;
    public SelectorConfig Selector { get; init; } = new();
    /// <summary>Reward margin of the taxonomy (see <see cref="Taxonomy"/>).</summary>
    public double RewardMargin { get; init; }

    public void Validate()
    {
        if (Budget < 1) throw new ArgumentException($"budget.cases = {Budget}: expected at least 1");
        if (BatchSize < 1) throw new ArgumentException($"budget.batch = {BatchSize}: expected at least 1");
        if (Samples < 1) throw new ArgumentException($"budget.samples = {Samples}: expected at least 1");
        if (Sampling.MaxTokens < 1) throw new ArgumentException($"sampling.max_tokens = {Sampling.MaxTokens}: expected at least 1");
        if (Sampling.Temperature < 0) throw new ArgumentException($"sampling.temperature = {Sampling.Temperature}: expected ≥ 0");
        Selector.Validate();
    }
}
