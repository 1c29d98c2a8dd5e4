import { Rng } from '../rng';

export interface SamplingParams {
  /** 0 = greedy (always the most likely token). */
  temperature: number;
  /** Keep only the k most likely tokens (0 or undefined = all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probabilities add up to p (1 or undefined = all). */
  topP?: number;
}

export interface TokenProb {
  token: number;
  prob: number;
}

/** Softmax of logits / temperature, as float64 (temperature 0 is shown as 1). */
export function softmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const t = temperature > 0 ? temperature : 1;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp((logits[i] - max) / t);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** The k most likely tokens, most likely first (ties: lower id first). */
export function topTokens(probs: ArrayLike<number>, k: number): TokenProb[] {
  const ids = Array.from({ length: probs.length }, (_, i) => i);
  ids.sort((a, b) => probs[b] - probs[a] || a - b);
  return ids.slice(0, k).map((token) => ({ token, prob: probs[token] }));
}

/**
 * The distribution sampling draws from: temperature, then top-k, then top-p (nucleus), renormalised.
 * Sorted by probability, most likely first.
 */
export function samplingDistribution(logits: ArrayLike<number>, p: SamplingParams): TokenProb[] {
  const probs = softmax(logits, p.temperature);
  let kept = topTokens(probs, p.topK && p.topK > 0 ? Math.min(p.topK, probs.length) : probs.length);
  if (p.topP !== undefined && p.topP < 1) {
    let acc = 0;
    const cut: TokenProb[] = [];
    for (const t of kept) {
      cut.push(t);
      acc += t.prob;
      if (acc >= p.topP) break;
    }
    kept = cut;
  }
  const sum = kept.reduce((s, t) => s + t.prob, 0);
  return kept.map((t) => ({ token: t.token, prob: t.prob / sum }));
}

/** Picks the next token: argmax when greedy, otherwise a seeded draw from the sampling distribution. */
export function pickToken(logits: ArrayLike<number>, p: SamplingParams, rng: Rng): number {
  if (!(p.temperature > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const dist = samplingDistribution(logits, p);
  let r = rng.next();
  for (const t of dist) {
    r -= t.prob;
    if (r < 0) return t.token;
  }
  return dist[dist.length - 1].token;
}
