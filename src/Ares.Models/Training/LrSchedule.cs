namespace Ares.Models.Training;

internal enum LrScheduleKind { Constant, Linear, Cosine }

/// <summary>
/// Learning rate per optimizer step (0-based): linear warm-up to <see cref="PeakLr"/> over
/// <see cref="WarmupSteps"/> steps, then constant, linear or cosine decay to <see cref="MinLr"/>
/// at <see cref="TotalSteps"/>. Warm-up reaches the peak on its last step, (step + 1)/warmup, so
/// no step runs at lr 0 (HF's step/warmup wastes the first).
/// </summary>
internal sealed record LrSchedule(LrScheduleKind Kind, double PeakLr, int WarmupSteps, int TotalSteps, double MinLr = 0)
{
    public double At(int step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be ≥ 0");
        if (step < WarmupSteps) return PeakLr * (step + 1) / WarmupSteps;
        if (Kind == LrScheduleKind.Constant) return PeakLr;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps)); // 0 → 1 over the decay
        double shape = Kind == LrScheduleKind.Linear ? 1 - progress : 0.5 * (1 + Math.Cos(Math.PI * progress));
        return MinLr + (PeakLr - MinLr) * shape;
    }

    public void Validate()
    {
        if (!(PeakLr > 0) || double.IsInfinity(PeakLr)) throw new ArgumentException($"learning rate must be > 0 and finite, got {PeakLr}");
        if (MinLr < 0 || MinLr > PeakLr) throw new ArgumentException($"minimum learning rate must be in [0, {PeakLr}], got {MinLr}");
        if (WarmupSteps < 0) throw new ArgumentException($"warm-up steps must be ≥ 0, got {WarmupSteps}");
        if (TotalSteps < 1) throw new ArgumentException($"total steps must be ≥ 1, got {TotalSteps}");
    }
}
