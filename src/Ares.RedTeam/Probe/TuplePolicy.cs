using Ares.Models.Training;
using Ares.RedTeam.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ares.RedTeam.Probe;

/// <summary>
/// The policy: the state (one-hot of the values chosen so far, plus a one-hot of the step) → MLP →
/// one logit per value of every kind; a step reads its own kind's slice. Tuples that share a
/// component share input units, so what is learned about one generalises to its neighbours.
/// Weights are drawn from the given generator (not torch's global one) so training is reproducible.
/// </summary>
internal sealed class TuplePolicy : nn.Module<Tensor, Tensor>
{
    readonly Linear hidden1, hidden2, head;
    public readonly Parameter logZ;

    public TuplePolicy(int features, int hidden, int width, Random rng) : base(nameof(TuplePolicy))
    {
        hidden1 = Init(nn.Linear(features, hidden), rng);
        hidden2 = Init(nn.Linear(hidden, hidden), rng);
        head = Init(nn.Linear(hidden, width), rng);
        logZ = new Parameter(zeros(1));
        RegisterComponents();
    }

    /// <summary>(N, features) → (N, width) logits.</summary>
    public override Tensor forward(Tensor x) =>
        head.forward(nn.functional.relu(hidden2.forward(nn.functional.relu(hidden1.forward(x)))));

    /// <summary>nn.Linear's default U(−1/√in, 1/√in), from <paramref name="rng"/>.</summary>
    static Linear Init(Linear l, Random rng)
    {
        var bound = 1 / Math.Sqrt(l.in_features);
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            l.weight!.copy_(tensor(Enumerable.Range(0, (int)l.weight.numel()).Select(_ => (float)((2 * rng.NextDouble() - 1) * bound)).ToArray()).reshape(l.weight.shape));
            l.bias!.copy_(tensor(Enumerable.Range(0, (int)l.bias.numel()).Select(_ => (float)((2 * rng.NextDouble() - 1) * bound)).ToArray()));
        }
        return l;
    }
}
