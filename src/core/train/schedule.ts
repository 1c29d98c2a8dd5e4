/** nanoGPT's get_lr: linear warm-up to `peak`, then cosine decay to `min` at progress 1. */
export function learningRate(
  step: number,
  progress: number,
  o: { peak: number; min: number; warmupSteps: number },
): number {
  if (step < o.warmupSteps) return (o.peak * (step + 1)) / o.warmupSteps;
  const p = Math.min(1, Math.max(0, progress));
  return o.min + 0.5 * (1 + Math.cos(Math.PI * p)) * (o.peak - o.min);
}
