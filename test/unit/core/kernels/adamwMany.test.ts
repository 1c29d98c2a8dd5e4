import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { fastKernelsActive, setFastKernels } from '../../../../src/core/kernels';
import { AdamW } from '../../../../src/core/train/adamw';
import { useWasm } from '../../helpers/tf';
import { assertClose } from '../../helpers/wasmAsserts';

/** Sizes that are and are not multiples of the kernel's four lanes; matrices decay, vectors do not. */
const SHAPES: Record<string, number[]> = { w: [5, 6], b: [7], g: [13], e: [3, 4] };

/**
 * Three AdamW steps (clipping on) from fixed weights and gradients; the weights, moments and kernels run.
 * `share` clones one moment first (another tensor then shares its memory: no in-place write may touch it).
 */
async function run(fast: boolean, share = false) {
  setFastKernels(fast);
  try {
    const params = new Map<string, tf.Variable>();
    let seed = 1;
    for (const [name, shape] of Object.entries(SHAPES)) {
      params.set(name, tf.variable(tf.randomNormal(shape, 0, 1, 'float32', seed++), true, `adamwMany/${fast}/${name}`));
    }
    const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    const shared = share ? tf.clone(opt.stateTensors().get('exp_avg.b')!) : undefined;
    const sharedBefore = shared?.dataSync().slice();
    const ids = [...params.values()].map((p) => p.dataId);
    const kernels: string[] = [];
    for (let s = 0; s < 3; s++) {
      const grads: Record<string, tf.Tensor> = {};
      for (const p of params.values()) grads[p.name] = tf.randomNormal(p.shape, 0, 2, 'float32', 100 + s + seed++);
      let norm: tf.Scalar | undefined;
      const info = await tf.profile(() => {
        norm = opt.step(grads, 1e-2, 1.0);
      });
      kernels.push(...info.kernelNames);
      norm!.dispose();
      tf.dispose(Object.values(grads));
    }
    const out = {
      weights: [...params.values()].map((p) => p.dataSync().slice()),
      state: [...opt.state().values()],
      newData: [...params.values()].every((p, i) => p.dataId !== ids[i]),
      sharedKept: shared ? Array.from(shared.dataSync()).every((x, i) => x === sharedBefore![i]) : true,
      kernels,
    };
    shared?.dispose();
    opt.dispose();
    tf.dispose([...params.values()]);
    return out;
  } finally {
    setFastKernels(true);
  }
}

describe('AdamW over every parameter in one wasm call (adamw_many)', () => {
  before(useWasm);

  it('gives the reference path’s weights and moments, gives each variable new data, and runs no per-parameter kernel', async () => {
    const ref = await run(false);
    const fast = await run(true);
    assert.ok(fastKernelsActive());
    fast.weights.forEach((w, i) => assertClose(w, ref.weights[i], 1e-5, `weights ${i}`));
    fast.state.forEach((s, i) => assertClose(s, ref.state[i], 1e-5, `moment ${i}`));
    assert.ok(fast.newData, 'every variable holds new data after a step (caches of the weights see the change)');
    assert.ok(!fast.kernels.includes('GptLabAdamW'), `kernels: ${fast.kernels.join(', ')}`);
  });

  it('falls back to a kernel per parameter, leaving the other tensor alone, when a moment’s memory is shared', async () => {
    const ref = await run(false);
    const fast = await run(true, true);
    assert.ok(fast.sharedKept, 'the clone of a moment kept its values');
    assert.ok(fast.kernels.includes('GptLabAdamW'), 'the per-parameter kernel ran');
    fast.weights.forEach((w, i) => assertClose(w, ref.weights[i], 1e-5, `weights ${i}`));
    fast.state.forEach((s, i) => assertClose(s, ref.state[i], 1e-5, `moment ${i}`));
  });
});
