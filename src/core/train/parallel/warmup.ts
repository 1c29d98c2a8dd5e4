import * as tf from '@tensorflow/tfjs-core';
import type { GPTConfig } from '../../model/config';
import type { Batch } from '../data';
import { flopsPerToken } from './replicas';

/**
 * A thread's first steps run cold code, and each worker isolate compiles its own: V8 optimises the engine's
 * JavaScript over its first ~200 steps (~1 s of TurboFan work per thread on config A, on background threads that
 * then compete with the replicas for the cores). On a small model two replicas' steps 2-9 took ~40 ms against ~17
 * once warm (config A, 2 cores), so the adaptive probe and a benchmark judged them on cold code: +7% over one
 * thread. Throwaway passes at start compile it first. A model whose pass is long (B: ~7 GFLOP a shard) spends
 * little of its first steps compiling, and is left alone.
 */
export const WARMUP = {
  /** Passes at most, and milliseconds at most (a pass is not started when the last one says it would overrun). */
  passes: 300,
  ms: 2000,
  /** Rows of all passes but the last. */
  rows: 2,
  /** A shard's pass above this many FLOPs is not warmed. */
  maxGflop: 2,
};

/** Whether replicas of `rows` rows of `model` are warmed (see WARMUP). */
export function warmsUp(model: GPTConfig, rows: number): boolean {
  return (rows * model.contextLength * flopsPerToken(model)) / 1e9 <= WARMUP.maxGflop;
}

/**
 * Forward and backward passes of `loss` on batches of token 0, their gradients thrown away: no weight, optimizer
 * state or random stream changes. Most passes take WARMUP.rows rows (the JavaScript to compile is the same for any
 * rows, the wasm work smaller), the last the replica's own `rows` × `cols` (its memory and its kernels' shapes).
 * Returns the passes run.
 */
export function warmUp(loss: (b: Batch) => tf.Scalar, rows: number, cols: number, budget = WARMUP): number {
  const pass = (b: Batch) => {
    const { value, grads } = tf.variableGrads(() => loss(b));
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const batch = (r: number): Batch => {
    const x = new Int32Array(r * cols);
    return { x, y: x, B: r, T: cols, dropoutSeed: 0, firstRow: 0 };
  };
  const small = batch(Math.min(rows, budget.rows));
  const t0 = performance.now();
  let last = 0;
  let passes = 0;
  while (passes < budget.passes - 1 && performance.now() - t0 + last <= budget.ms) {
    const p0 = performance.now();
    pass(small);
    last = performance.now() - p0;
    passes++;
  }
  pass(batch(rows));
  return passes + 1;
}
