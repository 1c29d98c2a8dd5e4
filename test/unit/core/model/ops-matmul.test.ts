import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { setFastKernels } from '../../../../src/core/kernels';
import { batchMatMulPlain, matMulPlain, transposedProductsFast } from '../../../../src/core/model/ops';
import { Rng } from '../../../../src/core/rng';
import { useWasm } from '../../helpers/tf';

const random = (rng: Rng, shape: number[]) =>
  tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    shape,
  );

/** Values of both gradients of sum(f(a, b)·w) and the kernels it ran (names, with repeats). */
async function gradients(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, a: tf.Tensor, b: tf.Tensor, w: tf.Tensor) {
  let grads: Float32Array[] = [];
  const info = await tf.profile(() => {
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y), w)))([a, b]);
    grads = g.map((t) => t.dataSync() as Float32Array);
    tf.dispose(g);
  });
  return { grads, kernels: info.kernels.map((k) => k.name) };
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length);
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  assert.ok(scale > 0.1, `${what}: the reference is not all zeros`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-5 * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('matMulPlain and batchMatMulPlain: transposed flags on gemm.c, explicit transposes on the reference', () => {
  before(useWasm);
  after(() => setFastKernels(true));

  const cases: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, number[], number[]][] = [
    ['2-D x·W', (a, b) => matMulPlain(a as tf.Tensor2D, b as tf.Tensor2D), [37, 24], [24, 19]],
    ['batched a·b', (a, b) => batchMatMulPlain(a as tf.Tensor3D, b as tf.Tensor3D), [3, 21, 16], [3, 16, 18]],
  ];
  for (const [name, f, sa, sb] of cases) {
    it(`${name}: both gradients equal the reference path's, with no Transpose kernel on the fast path`, async () => {
      const rng = new Rng(7);
      const [a, b] = [random(rng, sa), random(rng, sb)];
      const w = random(rng, [...sa.slice(0, -1), sb[sb.length - 1]]);
      setFastKernels(true);
      assert.ok(transposedProductsFast(), 'gemm.c is on for this test');
      const fast = await gradients(f, a, b, w);
      setFastKernels(false);
      assert.ok(!transposedProductsFast());
      const ref = await gradients(f, a, b, w);
      setFastKernels(true);
      assert.equal(fast.kernels.filter((k) => k === 'Transpose').length, 0, fast.kernels.join(' '));
      assert.equal(ref.kernels.filter((k) => k === 'Transpose').length, 2, ref.kernels.join(' '));
      assertClose(fast.grads[0], ref.grads[0], 'd/da');
      assertClose(fast.grads[1], ref.grads[1], 'd/db');
      tf.dispose([a, b, w]);
    });
  }
});
