/**
 * The learning rate at `step`, `progress` (0..1) being the share of the budget after warm-up that has passed.
 * Linear warm-up to `peak`, then nanoGPT's cosine decay to `min` at progress 1 — or, with `schedule: 'wsd'`,
 * warm-up/stable/decay: `peak` until progress 1 − decayFraction, then a linear decay to `min` at progress 1.
 * Keyed to the budget's fraction, the same schedule fits a budget in steps and one in minutes.
 */
export function learningRate(
  step: number,
  progress: number,
  o: { peak: number; min: number; warmupSteps: number; schedule?: 'cosine' | 'wsd'; decayFraction?: number },
): number {
  if (step < o.warmupSteps) return (o.peak * (step + 1)) / o.warmupSteps;
  const p = Math.min(1, Math.max(0, progress));
  if (o.schedule === 'wsd') {
    const d = o.decayFraction ?? 0.3;
    if (p <= 1 - d) return o.peak;
    return o.min + ((1 - p) / d) * (o.peak - o.min);
  }
  return o.min + 0.5 * (1 + Math.cos(Math.PI * p)) * (o.peak - o.min);
}
