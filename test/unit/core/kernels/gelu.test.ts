import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setFastKernels } from '../../../../src/core/kernels';
import { GELU_DERIVATIVE, GELU_FILE, geluDerivativeAvailable } from '../../../../src/core/kernels/gelu';
import { gelu } from '../../../../src/core/model/ops';
import { useWasm } from '../../helpers/tf';

const root = path.resolve(__dirname, '../../../../..');

/** GELU's value and gradient of sum(gelu(x)·w), and the kernels that ran. */
async function valueAndGrad(x: tf.Tensor, w: tf.Tensor) {
  let out: Float32Array[] = [];
  const info = await tf.profile(() => {
    const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => tf.sum(tf.mul(gelu(t), w)))([x]);
    const y = gelu(x);
    out = [y.dataSync() as Float32Array, grads[0].dataSync() as Float32Array];
    tf.dispose([value, grads, y]);
  });
  return { out, kernels: info.kernels.map((k) => k.name) };
}

describe('gelu.c: GELU with its derivative in one forward kernel', () => {
  before(useWasm);
  after(() => setFastKernels(true));

  it('the binary is what gelu.c compiles to (npm run build:kernels), when clang 14 and lld are installed', function () {
    const clang = spawnSync('clang', ['--version'], { encoding: 'utf8' });
    if (clang.status !== 0 || spawnSync('wasm-ld', ['--version']).status !== 0) this.skip(); // .ci/run installs them
    if (!/clang version 14\./.test(clang.stdout)) this.skip(); // the committed binary is Debian 12's clang 14
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gptlab-gelu-'));
    try {
      const out = path.join(dir, GELU_FILE);
      execFileSync('node', [path.join(root, 'src/core/kernels/c/build-gelu.mjs'), '--out', out]);
      const committed = readFileSync(path.join(root, 'src/core/kernels', GELU_FILE));
      assert.ok(readFileSync(out).equals(committed), `${GELU_FILE}: rebuild with npm run build:kernels`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("values and gradient equal the reference path's (extremes, a length not a multiple of 4)", async () => {
    const x = tf.concat([tf.randomNormal([1021], 0, 3, 'float32', 5), tf.tensor1d([0, -20, 20, -1e-4, 1e-4, 80, -80])]);
    const w = tf.randomNormal([x.size], 0, 1, 'float32', 6);
    setFastKernels(true);
    assert.ok(geluDerivativeAvailable());
    const fast = await valueAndGrad(x, w);
    setFastKernels(false);
    const ref = await valueAndGrad(x, w);
    setFastKernels(true);
    assert.ok(fast.kernels.includes(GELU_DERIVATIVE), fast.kernels.join(' '));
    assert.ok(!fast.kernels.includes('GptLabGeluGrad'), 'the backward pass is a multiply');
    assert.ok(!ref.kernels.includes(GELU_DERIVATIVE));
    for (const [i, what] of ['gelu', 'dx'].entries()) {
      const [a, e] = [fast.out[i], ref.out[i]];
      let scale = 0;
      for (const v of e) scale = Math.max(scale, Math.abs(v));
      assert.ok(scale > 1, `${what}: the reference is not all zeros`);
      for (let j = 0; j < e.length; j++) {
        assert.ok(Math.abs(a[j] - e[j]) <= 1e-5 * scale, `${what}[${j}]: ${a[j]} vs ${e[j]}`);
      }
    }
    tf.dispose([x, w]);
  });
});
