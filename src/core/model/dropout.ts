import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';

/**
 * Dropout of one training step: the share of units zeroed (the rest scaled by 1/(1 − rate)) and the seed its masks
 * come from. A mask is a pure function of (seed, row of the step's batch, mask index), so a data-parallel shard
 * (rows from `firstRow`) draws the same masks as the whole batch on one thread, and a resumed run the same as an
 * unbroken one (the seed is drawn from the run's generator, which checkpoints save).
 */
export interface DropoutSpec {
  rate: number;
  seed: number;
  /** Row of the step's whole batch this batch's first row is (a replica's shard); default 0. */
  firstRow?: number;
}

/** A row's generator for mask `k`: the seed, row and mask index spread by Rng's own seeding. */
function rowRng(seed: number, row: number, k: number): Rng {
  const h =
    (Math.imul(seed ^ 0x5bd1e995, 0x01000193) ^ Math.imul(row + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77)) >>> 0;
  return new Rng(h);
}

/** Mask values [B·T·width] for mask `k`: 0 with probability `rate`, else 1/(1 − rate). */
export function dropoutMask(spec: DropoutSpec, k: number, B: number, T: number, width: number): Float32Array {
  const { rate, seed } = spec;
  const row0 = spec.firstRow ?? 0;
  const keep = 1 / (1 - rate);
  const out = new Float32Array(B * T * width);
  const perRow = T * width;
  for (let b = 0; b < B; b++) {
    const rng = rowRng(seed, row0 + b, k);
    for (let i = b * perRow, end = i + perRow; i < end; i++) out[i] = rng.next() < rate ? 0 : keep;
  }
  return out;
}

/**
 * x [B·T, C] times mask `k` (a constant: the gradient flows through the kept units, scaled alike). Rate 0 or no
 * spec returns x itself, so a model without dropout computes exactly what it did before.
 */
export function applyDropout(
  x: tf.Tensor2D,
  spec: DropoutSpec | undefined,
  k: number,
  B: number,
  T: number,
): tf.Tensor2D {
  if (!spec || !(spec.rate > 0)) return x;
  const C = x.shape[1];
  return tf.mul(x, tf.tensor2d(dropoutMask(spec, k, B, T, C), [B * T, C]));
}
