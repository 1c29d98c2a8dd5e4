/**
 * How the numbers that travel in messages read, the same wherever a person sees them: the CLI's output, the
 * status bar, progress notifications and the panels. Pure string functions (no DOM, no Node), so every layer
 * that may import src/protocol may import this.
 */

/** 1.2k, 3.4M, 1.1B: counts of tokens and parameters. */
export function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}

/** 45 s, 2 min 10 s, 2 min, 1 h 5 min. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** 820 KB, 3.4 MB. */
export function megabytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} KB`;
}

/** 1.2k tok/s. */
export function tokensPerSecond(rate: number): string {
  return `${compact(rate)} tok/s`;
}

/** A share as a whole percentage (accuracy, win rate): 42%; '—' when unknown. */
export function percent(share: number | undefined): string {
  return share === undefined || !Number.isFinite(share) ? '—' : `${(share * 100).toFixed(0)}%`;
}

/** A probability a person reads quickly: "42%", "3.1%", "0.04%", "<0.01%", ">99.9%". */
export function probability(p: number): string {
  const v = p * 100;
  if (!(v > 0)) return '0%';
  if (v >= 99.95 && v < 100) return '>99.9%';
  if (v >= 10) return `${v.toFixed(0)}%`;
  if (v >= 1) return `${v.toFixed(1)}%`;
  if (v >= 0.01) return `${v.toFixed(2)}%`;
  return '<0.01%';
}

/** A validation loss with its bits per byte when known: "1.234 (1.42 bits/byte)". */
export function lossAndBpb(loss: number | undefined, bpb?: number): string {
  const text = loss === undefined ? '—' : loss.toFixed(3);
  return bpb !== undefined && Number.isFinite(bpb) ? `${text} (${bpb.toFixed(2)} bits/byte)` : text;
}

/** What a progress display needs of a training step (the worker's `progress` event has these). */
export interface ProgressFigures {
  fraction: number;
  step: number;
  loss: number;
  tokensPerSec: number;
  etaMs: number;
  metrics?: Record<string, number>;
}

export interface ProgressTextOptions {
  /** Lead with "43%" (a progress bar that shows the fraction itself leaves it out). */
  percent?: boolean;
  /** "step 120". */
  step?: boolean;
  /** What the stage measures, in place of "loss 2.31 · token accuracy 40%" (PPO: reward, KL…). */
  figures?: string;
  /** Decimals of the loss: 2 where space is short (status bar, notification), else 3. */
  lossDigits?: number;
  /** "2 min left" at the end (default on). */
  eta?: boolean;
}

/** One training step as every progress display reads it: 43% · step 120 · loss 2.31 · 1.2k tok/s · 2 min left. */
export function progressText(p: ProgressFigures, o: ProgressTextOptions = {}): string {
  const acc = p.metrics?.tokenAccuracy;
  const figures =
    o.figures ??
    `loss ${p.loss.toFixed(o.lossDigits ?? 3)}${acc !== undefined ? ` · token accuracy ${percent(acc)}` : ''}`;
  return [
    o.percent && `${Math.floor(p.fraction * 100)}%`,
    o.step && `step ${p.step}`,
    figures,
    tokensPerSecond(p.tokensPerSec),
    o.eta !== false && `${duration(p.etaMs)} left`,
  ]
    .filter(Boolean)
    .join(' · ');
}
