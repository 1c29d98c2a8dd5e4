import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../../../src/core/model/gpt';

/**
 * Central differences against the analytic gradients: for a few entries of each named parameter, nudge it by
 * ±eps and compare (loss(+eps) − loss(−eps)) / 2eps with `grads` (from tf.variableGrads of the same loss).
 */
export function assertGradientsMatch(
  m: GPT,
  grads: tf.NamedTensorMap,
  names: readonly string[],
  lossAt: () => number,
  eps: number,
): void {
  for (const name of names) {
    const v = m.params.get(name)!;
    const g = grads[v.name].dataSync();
    const w = v.dataSync().slice();
    for (const i of new Set([0, 3, Math.floor(w.length / 2), w.length - 1].filter((k) => k < w.length))) {
      const set = (d: number) =>
        tf.tidy(() => {
          const c = w.slice();
          c[i] += d;
          v.assign(tf.tensor(c, v.shape));
        });
      set(eps);
      const up = lossAt();
      set(-eps);
      const down = lossAt();
      set(0);
      const numeric = (up - down) / (2 * eps);
      assert.ok(
        Math.abs(numeric - g[i]) < 2e-3 + 0.05 * Math.abs(numeric),
        `${name}[${i}]: analytic ${g[i]}, numeric ${numeric}`,
      );
    }
  }
}
