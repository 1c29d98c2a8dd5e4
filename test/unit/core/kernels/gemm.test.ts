import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fastKernelsActive, setFastKernels } from '../../../../src/core/kernels';
import { GEMM_FILES, GemmVariant, gemmVariant, setGemmVariant } from '../../../../src/core/kernels/gemm';
import { gemmStats } from '../../../../src/core/kernels/matmul';
import { GPTConfig } from '../../../../src/core/model/config';
import { GPT } from '../../../../src/core/model/gpt';
import { geluMlp, linear } from '../../../../src/core/model/ops';
import { AdamW } from '../../../../src/core/train/adamw';
import { trainStep } from '../../../../src/core/train/trainer';
import { useWasm } from '../../helpers/tf';
import { assertClose, wasmSectionIds } from '../../helpers/wasmAsserts';

const root = path.resolve(__dirname, '../../../../..');
const VARIANTS: GemmVariant[] = ['plain', 'relaxed'];

/** Runs f with tfjs's own BatchMatMul (GPTLAB_GEMM=off, the other fused kernels on) and with gemm.c's variant. */
function withGemm<T>(variant: GemmVariant | 'off', f: () => T): T {
  const before = setGemmVariant(variant);
  try {
    return f();
  } finally {
    setGemmVariant(before);
  }
}

describe('gemm.c: the wasm BatchMatMul', () => {
  before(async () => {
    await useWasm();
    setFastKernels(true);
    assert.ok(fastKernelsActive(), 'the fused kernels load on wasm');
  });

  it('both binaries are what gemm.c compiles to (npm run build:kernels), when clang 14 and lld are installed', function () {
    const clang = spawnSync('clang', ['--version'], { encoding: 'utf8' });
    if (clang.status !== 0 || spawnSync('wasm-ld', ['--version']).status !== 0) this.skip(); // .ci/run installs them
    if (!/clang version 14\./.test(clang.stdout)) this.skip(); // the committed binaries are Debian 12's clang 14
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gptlab-gemm-'));
    try {
      execFileSync('node', [path.join(root, 'src/core/kernels/c/build-gemm.mjs'), '--out', dir]);
      for (const f of Object.values(GEMM_FILES)) {
        const committed = readFileSync(path.join(root, 'src/core/kernels', f));
        assert.ok(readFileSync(path.join(dir, f)).equals(committed), `${f}: rebuild with npm run build:kernels`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('both binaries import only memory and have no data segment (they share the tfjs heap)', () => {
    const W = (
      globalThis as unknown as { WebAssembly: { Module: { imports(m: object): { module: string; name: string }[] } } }
    ).WebAssembly;
    assert.equal(
      withGemm('relaxed', () => gemmVariant()),
      'relaxed',
      'relaxed SIMD on (Node 20: its flag)',
    );
    for (const f of Object.values(GEMM_FILES)) {
      const bytes = readFileSync(path.join(root, 'src/core/kernels', f));
      // Section ids in order: a data section (11) would overwrite tfjs's heap on instantiation.
      const ids = wasmSectionIds(bytes);
      assert.ok(ids.includes(10) && !ids.includes(11), `${f}: code, no data`);
      const mod = new (W.Module as unknown as new (b: Uint8Array) => object)(bytes);
      assert.deepEqual(
        W.Module.imports(mod).map((i) => `${i.module}.${i.name}`),
        ['env.memory'],
      );
    }
  });

  it('relaxed SIMD compiles on this runtime (Node 20 turns its flag on), so relaxed is the default', () => {
    assert.equal(
      withGemm('relaxed', () => gemmVariant()),
      'relaxed',
    );
    const asked = setGemmVariant(undefined);
    try {
      assert.equal(gemmVariant(), 'relaxed');
    } finally {
      setGemmVariant(asked);
    }
  });

  // [aShape, bShape, transposeA, transposeB]: edges of every blocking (rows not a multiple of 4 or of the 96-row
  // block, columns not a multiple of 8, K past the 256-deep block), transposes, batches and shared operands.
  const cases: [number[], number[], boolean, boolean][] = [
    [[101, 300], [300, 21], false, false],
    [[300, 101], [300, 21], true, false],
    [[101, 300], [21, 300], false, true],
    [[300, 101], [21, 300], true, true],
    [[16, 8], [8, 8], false, false],
    [[3, 5], [7, 5], false, true], // few rows, transposed: gemm.c still takes it (tfjs would loop in scalar)
    [[3, 37, 19], [3, 19, 24], false, false],
    [[2, 3, 19, 37], [2, 3, 24, 19], true, true],
    [[4, 40, 19], [19, 17], false, false], // one B for the batch
    [[40, 19], [2, 2, 19, 17], false, false], // one A, a broadcast batch of rank 2
  ];
  for (const variant of VARIANTS) {
    for (const [sa, sb, ta, tb] of cases) {
      it(`${variant}: [${sa}]${ta ? 'ᵀ' : ''} · [${sb}]${tb ? 'ᵀ' : ''} matches tfjs's own kernel`, () => {
        const a = tf.randomNormal(sa, 0, 1, 'float32', 1);
        const b = tf.randomNormal(sb, 0, 1, 'float32', 2);
        try {
          const ref = withGemm('off', () => tf.matMul(a, b, ta, tb));
          const calls = gemmStats.calls;
          const got = withGemm(variant, () => tf.matMul(a, b, ta, tb));
          assert.equal(gemmStats.calls, calls + 1, 'gemm.c ran');
          assert.deepEqual(got.shape, ref.shape);
          assertClose(got.dataSync(), ref.dataSync(), 1e-5, 'c');
          tf.dispose([ref, got]);
        } finally {
          tf.dispose([a, b]);
        }
      });
    }
  }

  // [rows, in, out]: K past the 256-deep block both ways (the bias added once, the column sums over several
  // packs), a panel narrower than 8 columns, the fewest rows gemm.c takes, exact tiles.
  const linearCases: [number, number, number][] = [
    [300, 300, 21],
    [16, 8, 8],
    [33, 12, 7],
    [1024, 64, 192],
  ];
  for (const variant of VARIANTS) {
    for (const [rows, nIn, nOut] of linearCases) {
      it(`${variant}: linear [${rows}, ${nIn}] → ${nOut} with a bias in gemm.c (bias in the product, its gradient in the packing) matches tfjs`, () => {
        const x = tf.randomNormal([rows, nIn], 0, 1, 'float32', 3);
        const w = tf.randomNormal([nIn, nOut], 0, 1, 'float32', 4);
        const b = tf.randomNormal([nOut], 0, 1, 'float32', 5);
        const dy = tf.randomNormal([rows, nOut], 0, 1, 'float32', 6);
        const run = () =>
          tf.tidy(() => {
            const f = (...t: tf.Tensor[]) => linear(t[0] as tf.Tensor2D, t[1] as tf.Tensor2D, t[2] as tf.Tensor1D);
            const y = f(x, w, b);
            const grads = tf.grads((...t: tf.Tensor[]) => tf.sum(tf.mul(f(...t), dy)))([x, w, b]);
            return [y, ...grads].map((t) => t.dataSync() as Float32Array);
          });
        try {
          setFastKernels(false);
          const ref = run();
          setFastKernels(true);
          const calls = gemmStats.calls;
          const got = withGemm(variant, run);
          // forward, then forward and backward again under tf.grads: x·W + b, xᵀ·dy with db, dy·Wᵀ
          assert.equal(gemmStats.calls, calls + 4, 'gemm.c took every product, the bias ones fused');
          ['y', 'dx', 'dw', 'db'].forEach((what, i) => assertClose(got[i], ref[i], 1e-5, what));
        } finally {
          setFastKernels(true);
          tf.dispose([x, w, b, dy]);
        }
      });
    }
  }

  // [rows, C, hidden]: dy·W2ᵀ past the 256-deep block (the derivative multiplied on the last pass only) with a
  // hidden width not a multiple of 8; the training shapes of config A.
  const mlpCases: [number, number, number][] = [
    [300, 260, 21],
    [1024, 64, 256],
  ];
  for (const variant of VARIANTS) {
    for (const [rows, C, hidden] of mlpCases) {
      it(`${variant}: GPT-2's MLP [${rows}, ${C}] → ${hidden} → ${C} as one op (GELU's derivative multiplied inside dy·W2ᵀ) matches tfjs`, () => {
        const inputs = [
          tf.randomNormal([rows, C], 0, 1, 'float32', 7),
          tf.randomNormal([C, hidden], 0, 0.2, 'float32', 8),
          tf.randomNormal([hidden], 0, 1, 'float32', 9),
          tf.randomNormal([hidden, C], 0, 0.2, 'float32', 10),
          tf.randomNormal([C], 0, 1, 'float32', 11),
        ];
        const dy = tf.randomNormal([rows, C], 0, 1, 'float32', 12);
        const f = (...t: tf.Tensor[]) =>
          geluMlp(
            t[0] as tf.Tensor2D,
            t[1] as tf.Tensor2D,
            t[2] as tf.Tensor1D,
            t[3] as tf.Tensor2D,
            t[4] as tf.Tensor1D,
          );
        const run = () =>
          tf.tidy(() => {
            const y = f(...inputs);
            const grads = tf.grads((...t: tf.Tensor[]) => tf.sum(tf.mul(f(...t), dy)))(inputs);
            return [y, ...grads].map((t) => t.dataSync() as Float32Array);
          });
        try {
          setFastKernels(false);
          const ref = run();
          setFastKernels(true);
          const calls = gemmStats.calls;
          const got = withGemm(variant, run);
          // two products forward, twice; backward: xᵀ·du and hᵀ·dy (with the bias gradients), dy·W2ᵀ ⊙ d, du·W1ᵀ
          assert.equal(gemmStats.calls, calls + 8, 'gemm.c took every product, fused');
          ['y', 'dx', 'dW1', 'db1', 'dW2', 'db2'].forEach((what, i) => assertClose(got[i], ref[i], 1e-5, what));
        } finally {
          setFastKernels(true);
          tf.dispose([...inputs, dy]);
        }
      });
    }
  }

  it('a linear layer of few rows (generation) keeps XNNPACK and a separate bias add', () => {
    const [x, w, b] = [tf.randomNormal([4, 64]), tf.randomNormal([64, 64]), tf.randomNormal([64])];
    const calls = gemmStats.calls;
    const y = withGemm('relaxed', () => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D));
    assert.equal(gemmStats.calls, calls);
    setFastKernels(false);
    const ref = linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D);
    setFastKernels(true);
    assertClose(y.dataSync(), ref.dataSync(), 1e-5, 'y');
    tf.dispose([x, w, b, y, ref]);
  });

  it('a plain product of few rows stays on XNNPACK; GPTLAB_KERNELS=reference turns gemm.c off', () => {
    const a = tf.randomNormal([4, 64]);
    const b = tf.randomNormal([64, 64]);
    const calls = gemmStats.calls;
    tf.dispose(withGemm('relaxed', () => tf.matMul(a, b)));
    assert.equal(gemmStats.calls, calls, 'matrix-vector-like products stay on XNNPACK');
    setFastKernels(false);
    try {
      tf.dispose(withGemm('relaxed', () => tf.matMul(tf.transpose(a), a, false, false)));
      tf.dispose(withGemm('relaxed', () => tf.matMul(a, a, true, false)));
    } finally {
      setFastKernels(true);
    }
    assert.equal(gemmStats.calls, calls, 'the reference path is tfjs alone');
    tf.dispose([a, b]);
  });

  const config: GPTConfig = {
    vocabSize: 90,
    contextLength: 24,
    nEmbd: 32,
    nLayer: 2,
    nHead: 2,
    positionEncoding: 'learned',
  };
  for (const variant of VARIANTS) {
    it(`${variant}: training steps (AdamW, clipping) give tfjs's losses and weights`, () => {
      const run = () => {
        const m = GPT.create(config, 5);
        const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
        const [B, T] = [4, 24];
        const losses: number[] = [];
        for (let s = 0; s < 4; s++) {
          const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + s * 3) % 90);
          const y = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + s * 3 + 1) % 90);
          losses.push(trainStep(m, opt, { x, y, B, T }, 3e-3, 0.5).loss);
        }
        const w = m.weights();
        m.dispose();
        opt.dispose();
        return { losses, w };
      };
      const ref = withGemm('off', run);
      const calls = gemmStats.calls;
      const got = withGemm(variant, run);
      assert.ok(gemmStats.calls >= calls + 4 * 3 * 5, `gemm.c took the step's products (${gemmStats.calls - calls})`);
      assertClose(got.losses, ref.losses, 1e-4, 'losses');
      for (const [name, w] of ref.w) assertClose(got.w.get(name)!, w, 1e-3, name);
    });
  }
});
