using Ares.Models.Tests;
using Ares.Models.Lora;
using Ares.RedTeam.Probe;
using Ares.RedTeam.Repair;
using Xunit;
using static TorchSharp.torch;

namespace Ares.RedTeam.Tests.Repair;

public sealed class CheckpointSelectionTests
{
    static CheckpointScore S(int step, int harmful, int refused, int n = 50) =>
        new(step, Proportion.Wilson(harmful, n), Proportion.Wilson(refused, n));

    [Fact]
    public void Among_repaired_checkpoints_the_least_over_refusing_wins_and_ties_go_to_the_earliest()
    {
        // Steps 3 and 7 are still harmful (> 2%); 11, 15, 19 are repaired with refusals 3, 2, 2.
        var scores = new[] { S(3, 20, 0), S(7, 5, 1), S(11, 1, 3), S(15, 0, 2), S(19, 0, 2), S(23, 0, 4) };
        Assert.Equal(3, CheckpointSelection.Select(scores, maxHarmfulRate: 0.02));
        // A looser threshold admits step 7, which refuses least.
        Assert.Equal(1, CheckpointSelection.Select(scores, maxHarmfulRate: 0.10));
        // Equal refusals everywhere: the earliest repaired checkpoint (least drift).
        Assert.Equal(2, CheckpointSelection.Select([S(3, 9, 1), S(7, 2, 1), S(11, 0, 1), S(15, 0, 1)], 0.02));
    }

    [Fact]
    public void When_none_is_repaired_the_least_harmful_wins_then_least_refusing()
    {
        Assert.Equal(1, CheckpointSelection.Select([S(3, 30, 0), S(7, 10, 5), S(11, 12, 0)], 0.02));
        Assert.Equal(2, CheckpointSelection.Select([S(3, 30, 0), S(7, 10, 5), S(11, 10, 2), S(15, 10, 2)], 0.02));
        Assert.Throws<ArgumentException>(() => CheckpointSelection.Select([], 0.02));
        // Training may stop at a repaired checkpoint that refuses nothing: no later one can be selected over it.
        Assert.True(CheckpointSelection.Final(S(11, 1, 0), 0.02));
        Assert.False(CheckpointSelection.Final(S(11, 1, 1), 0.02));
        Assert.False(CheckpointSelection.Final(S(11, 2, 0), 0.02));
        Assert.Throws<ArgumentException>(() => new CheckpointSelectionConfig { EveryNSteps = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new CheckpointSelectionConfig { MaxHarmfulRate = 1.5 }.Validate());
    }

    [Fact]
    public void A_snapshot_of_the_adapters_restores_them_after_further_updates_and_leaves_frozen_weights_alone()
    {
        using var model = TinyModels.Create(TinyModels.Llama(), seed: 3);
        LoraAdapters.Apply(model, new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0 });
        var ids = new long[] { 1, 5, 9, 13 };
        using var snapshot = new TrainableSnapshot(model);
        using var before = TinyModels.Logits(model, ids).detach().clone();
        var trainable = model.parameters().Where(p => p.requires_grad).ToList();
        var frozen = model.parameters().Where(p => !p.requires_grad).Select(p => p.detach().clone()).ToList();
        Assert.NotEmpty(trainable);
        using (no_grad())
            foreach (var p in trainable) p.add_(0.5);   // LoRA B starts at zero: any change shows in the logits
        using (var moved = TinyModels.Logits(model, ids))
            Assert.False(moved.allclose(before, rtol: 0, atol: 1e-4));

        snapshot.Restore();
        using var restored = TinyModels.Logits(model, ids);
        Assert.True(restored.allclose(before, rtol: 0, atol: 0), "restored adapters must give the snapshot's logits exactly");
        Assert.All(model.parameters().Where(p => !p.requires_grad).Zip(frozen), t => Assert.True(t.First.allclose(t.Second, rtol: 0, atol: 0)));
        foreach (var f in frozen) f.Dispose();
    }
}
