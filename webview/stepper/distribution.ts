/**
 * The stepper's view of the next-token distribution: exactly the one the sampler draws from
 * (src/core/sample/distribution.ts, pure, reused here), except that temperature 0 (greedy) is shown as all
 * the mass on the most likely token. No DOM, so unit tests import it.
 */
import { samplingDistribution, type SamplingParams, type TokenProb } from '../../src/core/sample/distribution';

export type { SamplingParams, TokenProb };

/** The shaped distribution, most likely first, summing to 1. */
export function shapedDistribution(logits: ArrayLike<number>, p: SamplingParams): TokenProb[] {
  if (logits.length === 0) return [];
  if (!(p.temperature > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return [{ token: best, prob: 1 }];
  }
  return samplingDistribution(logits, p);
}

/** Draws a token from a distribution with a uniform number r in [0, 1). */
export function drawToken(dist: TokenProb[], r: number): number {
  for (const t of dist) {
    r -= t.prob;
    if (r < 0) return t.token;
  }
  return dist[dist.length - 1].token;
}

export interface Bar {
  token: number;
  display: string;
  prob: number;
  logit: number;
}

/** At most this many bars are drawn; the rest of the mass is summed in one line. */
export const MAX_BARS = 20;

/** The bars to draw (the first `max` tokens of the distribution) and the mass left over. */
export function bars(
  dist: TokenProb[],
  logits: ArrayLike<number>,
  displayOf: (token: number) => string,
  max = MAX_BARS,
): { bars: Bar[]; restCount: number; restProb: number } {
  const shown = dist.slice(0, max).map((t) => ({
    token: t.token,
    display: displayOf(t.token),
    prob: t.prob,
    logit: logits[t.token],
  }));
  const rest = dist.slice(max);
  return { bars: shown, restCount: rest.length, restProb: rest.reduce((s, t) => s + t.prob, 0) };
}
