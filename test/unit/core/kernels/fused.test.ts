import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import {
  fastKernelsActive,
  fusedEmbeddingPositions,
  fusedGradNorm,
  fusedSoftCapCrossEntropy,
  setFastKernels,
} from '../../../../src/core/kernels';
import { GPTConfig } from '../../../../src/core/model/config';
import { disposeCache, GPT, KVCache } from '../../../../src/core/model/gpt';
import { crossEntropy, embedding, gelu, layerNorm, linear, relu2, softCap } from '../../../../src/core/model/ops';
import { AdamW, clipScale, globalNorm } from '../../../../src/core/train/adamw';
import { trainStep } from '../../../../src/core/train/trainer';
import { useWasm } from '../../helpers/tf';
import { assertClose } from '../../helpers/wasmAsserts';

/** Runs `f` on the reference path and on the fused kernels; returns both results as plain arrays. */
function bothPaths<T>(f: () => T): { reference: T; fused: T } {
  try {
    setFastKernels(false);
    const reference = f();
    setFastKernels(true);
    assert.ok(fastKernelsActive(), 'the fused kernels load on wasm');
    return { reference, fused: f() };
  } finally {
    setFastKernels(true);
  }
}

/** Value and gradients (by input) of sum(f(inputs)·w) for a fixed random w, as arrays. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): Float32Array[] {
  return tf.tidy(() => {
    const y = f(...inputs);
    const w = tf.randomNormal(y.shape, 0, 1, 'float32', 7);
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), w)))(inputs);
    return [y, ...g].map((t) => t.dataSync() as Float32Array);
  });
}

const rand = (shape: number[], seed: number, std = 1) => tf.randomNormal(shape, 0, std, 'float32', seed);

describe('fused wasm kernels against the reference path', () => {
  before(useWasm);
  after(() => setFastKernels(true));

  it('GELU: values and gradient, with extremes and a length that is not a multiple of 4', () => {
    const x = tf.concat([rand([1021], 1, 3), tf.tensor1d([0, -20, 20, -1e-4, 1e-4, 80, -80])]);
    const r = bothPaths(() => valueAndGrads((t) => gelu(t), [x]));
    r.reference.forEach((ref, i) => assertClose(r.fused[i], ref, 1e-5, ['gelu', 'dx'][i]));
    x.dispose();
  });

  it('logit soft-cap: values and gradient', () => {
    const x = tf.mul(rand([1023], 11), 40);
    const r = bothPaths(() => valueAndGrads((t) => softCap(t, 30), [x]));
    r.reference.forEach((ref, i) => assertClose(r.fused[i], ref, 1e-5, ['y', 'dx'][i]));
    x.dispose();
  });

  it('ReLU²: values and gradient, zeros and a length that is not a multiple of 4', () => {
    const x = tf.concat([rand([1021], 12, 3), tf.tensor1d([0, -0, 1e-30, -5, 5])]);
    const r = bothPaths(() => valueAndGrads((t) => relu2(t), [x]));
    r.reference.forEach((ref, i) => assertClose(r.fused[i], ref, 1e-6, ['y', 'dx'][i]));
    x.dispose();
  });

  it('soft-capped cross-entropy in one kernel: loss and gradient equal soft-cap then cross-entropy', () => {
    const logits = tf.mul(rand([21, 203], 13), 40); // well past the cap: the cap's derivative matters
    const targets = tf.tensor1d(
      Array.from({ length: 21 }, (_, i) => (i * 41) % 203),
      'int32',
    );
    const lossAndGrad = (f: (l: tf.Tensor2D) => tf.Scalar) =>
      tf.tidy(() => {
        const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => tf.mul(f(l as tf.Tensor2D), 1.5))(logits);
        return [value.dataSync(), grad.dataSync()] as Float32Array[];
      });
    setFastKernels(false);
    const reference = lossAndGrad((l) => crossEntropy(softCap(l, 30), targets));
    setFastKernels(true);
    const fused = lossAndGrad((l) => fusedSoftCapCrossEntropy(l, targets, 30));
    assertClose(fused[0], reference[0], 1e-5, 'loss');
    assertClose(fused[1], reference[1], 1e-5, 'dlogits');
    tf.dispose([logits, targets]);
  });

  for (const clip of [0, 1, 1e6]) {
    it(`the gradients' global norm and clip factor in one kernel (clip ${clip})`, () => {
      const grads = [rand([37, 19], 14, 0.5), rand([7], 15), rand([1], 16), rand([64, 8], 17, 0.1)];
      const [norm, scale] = fusedGradNorm(grads, clip);
      const refNorm = globalNorm(Object.fromEntries(grads.map((g, i) => [String(i), g])));
      const refScale = clipScale(refNorm, clip);
      assertClose(norm.dataSync(), refNorm.dataSync(), 1e-6, 'norm');
      assertClose(scale.dataSync(), refScale.dataSync(), 1e-6, 'factor');
      assert.ok(clip !== 1 || scale.dataSync()[0] < 0.2, 'clipping takes effect');
      tf.dispose([...grads, norm, scale, refNorm, refScale]);
    });
  }

  for (const withBeta of [true, false]) {
    it(`LayerNorm ${withBeta ? 'with' : 'without'} a bias: values and gradients of x, gain and bias`, () => {
      const inputs = [rand([37, 19], 2, 2), rand([19], 3), ...(withBeta ? [rand([19], 4)] : [])];
      const f = (x: tf.Tensor, g: tf.Tensor, b?: tf.Tensor) =>
        layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D | undefined);
      const r = bothPaths(() => valueAndGrads(f, inputs));
      r.reference.forEach((ref, i) => assertClose(r.fused[i], ref, 1e-4, ['y', 'dx', 'dgamma', 'dbeta'][i]));
      tf.dispose(inputs);
    });
  }

  it('linear with a bias: the bias gradient is the column sum', () => {
    const inputs = [rand([33, 12], 5), rand([12, 7], 6), rand([7], 7)];
    const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D);
    const r = bothPaths(() => valueAndGrads(f, inputs));
    r.reference.forEach((ref, i) => assertClose(r.fused[i], ref, 1e-5, ['y', 'dx', 'dw', 'db'][i]));
    tf.dispose(inputs);
  });

  it('cross-entropy: loss and gradient, vocabulary not a multiple of 4, large logits', () => {
    const logits = tf.mul(rand([29, 203], 8), 12);
    const targets = tf.tensor1d(
      Array.from({ length: 29 }, (_, i) => (i * 37) % 203),
      'int32',
    );
    const r = bothPaths(() =>
      tf.tidy(() => {
        // a scale on the loss: the backward pass must multiply by dy
        const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => tf.mul(crossEntropy(l as tf.Tensor2D, targets), 2.5))(
          logits,
        );
        return [value.dataSync(), grad.dataSync()] as Float32Array[];
      }),
    );
    assertClose(r.fused[0], r.reference[0], 1e-5, 'loss');
    assertClose(r.fused[1], r.reference[1], 1e-5, 'dlogits');
    tf.dispose([logits, targets]);
  });

  it('cross-entropy of an unscaled loss (dy = 1): the reference gradient, with no multiply over the logits', async () => {
    const logits = rand([29, 203], 11, 3);
    const targets = tf.tensor1d(
      Array.from({ length: 29 }, (_, i) => (i * 11) % 203),
      'int32',
    );
    const grad = () => tf.grad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, targets))(logits);
    const r = bothPaths(() => tf.tidy(() => grad().dataSync() as Float32Array));
    assertClose(r.fused, r.reference, 1e-5, 'dlogits');
    const info = await tf.profile(() => tf.dispose(grad()));
    assert.ok(!info.kernelNames.includes('Multiply'), `kernels: ${info.kernelNames.join(', ')}`);
    tf.dispose([logits, targets]);
  });

  it('embedding: rows and the scatter-added gradient (repeated ids); an id out of range reads nothing', () => {
    const table = rand([23, 10], 10);
    const ids = tf.tensor1d([3, 0, 22, 3, 3, 7, 0], 'int32');
    const r = bothPaths(() => valueAndGrads((t) => embedding(t as tf.Tensor2D, ids), [table]));
    r.reference.forEach((ref, i) => assertClose(r.fused[i], ref, 1e-6, ['rows', 'dtable'][i]));
    const bad = tf.tidy(() => embedding(table as tf.Tensor2D, tf.tensor1d([1, 23, -1], 'int32')).arraySync());
    assert.deepEqual([bad[1], bad[2]], [new Array(10).fill(0), new Array(10).fill(0)]);
    tf.dispose([table, ids]);
  });

  it('token and position embeddings in one kernel: rows plus positions pos0…pos0+T−1, gradients of both tables', () => {
    const [B, T, pos0, C] = [3, 5, 4, 10];
    const table = rand([23, C], 14);
    const positions = rand([12, C], 15);
    const ids = tf.tensor1d([3, 0, 22, 3, 3, 7, 0, 1, 1, 1, 22, 5, 6, 3, 0], 'int32');
    const f = (t: tf.Tensor, p: tf.Tensor) =>
      fastKernelsActive()
        ? fusedEmbeddingPositions(t as tf.Tensor2D, ids, p as tf.Tensor2D, pos0, T)
        : tf.reshape(tf.add(tf.reshape(embedding(t as tf.Tensor2D, ids), [B, T, C]), tf.slice(p, [pos0, 0], [T, C])), [
            B * T,
            C,
          ]);
    const r = bothPaths(() => valueAndGrads(f, [table, positions]));
    r.reference.forEach((ref, i) => assertClose(r.fused[i], ref, 1e-6, ['rows', 'dtable', 'dpositions'][i]));
    // rows of the position table outside the window get no gradient
    assert.ok(
      r.fused[2].slice(0, pos0 * C).every((v) => v === 0) && r.fused[2].slice((pos0 + T) * C).every((v) => v === 0),
    );
    tf.dispose([table, positions, ids]);
  });

  it('Transpose: the last two axes swapped, full tiles and edges, float and int, other perms unchanged', () => {
    const cases: [number[], number[], 'float32' | 'int32'][] = [
      [[37, 19], [1, 0], 'float32'],
      [[3, 48, 33], [0, 2, 1], 'float32'],
      [[2, 2, 64, 32], [0, 1, 3, 2], 'int32'],
      [[5, 6, 7], [1, 0, 2], 'float32'],
      [[0, 4], [1, 0], 'float32'],
    ];
    for (const [shape, perm, dtype] of cases) {
      const x = tf.cast(tf.mul(rand(shape, 9), 1000), dtype);
      const r = bothPaths(() =>
        tf.tidy(() => {
          const t = tf.transpose(x, perm);
          return { shape: t.shape, data: Array.from(t.dataSync()) };
        }),
      );
      assert.deepEqual(r.fused, r.reference, `${shape} ${perm} ${dtype}`);
      x.dispose();
    }
  });

  const models: [string, GPTConfig][] = [
    ['GPT-2 recipe', { vocabSize: 97, contextLength: 16, nEmbd: 32, nLayer: 2, nHead: 4, positionEncoding: 'learned' }],
    // head size 9: the kernels' scalar tails; no biases: LayerNorm without beta, linear without bias
    [
      'odd head size, no biases',
      { vocabSize: 61, contextLength: 12, nEmbd: 36, nLayer: 2, nHead: 4, positionEncoding: 'learned', bias: false },
    ],
    // QK-norm alone, rotary alone: the q/k kernel's two halves
    [
      'QK-norm only',
      { vocabSize: 50, contextLength: 12, nEmbd: 24, nLayer: 1, nHead: 3, positionEncoding: 'learned', qkNorm: true },
    ],
    ['rotary only', { vocabSize: 50, contextLength: 12, nEmbd: 24, nLayer: 1, nHead: 2, positionEncoding: 'rotary' }],
    // the default architecture: QK-norm and rotary, ReLU², untied head, no biases, soft-capped logits
    [
      'modern recipe',
      {
        vocabSize: 64,
        contextLength: 16,
        nEmbd: 32,
        nLayer: 2,
        nHead: 2,
        positionEncoding: 'rotary',
        qkNorm: true,
        mlp: 'relu2',
        untiedHead: true,
        bias: false,
        logitSoftCap: 30,
      },
    ],
  ];
  for (const [name, config] of models) {
    it(`whole model (${name}): loss and every parameter's gradient match`, () => {
      const m = GPT.create(config, 3);
      const B = 3;
      const T = config.contextLength - 1; // shorter than the context: the mask's slice
      const V = config.vocabSize;
      const x = tf.tensor2d(
        Int32Array.from({ length: B * T }, (_, i) => (i * 31 + 7) % V),
        [B, T],
        'int32',
      );
      const y = tf.tensor2d(
        Int32Array.from({ length: B * T }, (_, i) => (i * 17 + 3) % V),
        [B, T],
        'int32',
      );
      try {
        const r = bothPaths(() =>
          tf.tidy(() => {
            const { value, grads } = tf.variableGrads(() => m.loss(x, y));
            return {
              loss: value.dataSync()[0],
              grads: Object.entries(grads).map(([k, g]) => [k, g.dataSync()] as const),
            };
          }),
        );
        assert.ok(Math.abs(r.fused.loss - r.reference.loss) < 1e-5, `loss ${r.fused.loss} vs ${r.reference.loss}`);
        assert.equal(r.fused.grads.length, m.params.size);
        r.reference.grads.forEach(([k, g], i) => assertClose(r.fused.grads[i][1], g, 1e-5, k));
      } finally {
        tf.dispose([x, y]);
        m.dispose();
      }
    });
  }

  it('generation with a KV cache: logits and cache of a prefill and single-token steps match', () => {
    const m = GPT.create(models[0][1], 4);
    try {
      const r = bothPaths(() => {
        let cache: KVCache = { layers: [], length: 0 };
        const out: number[][] = [];
        for (const ids of [[5, 9, 2, 44, 17], [3], [60], [8, 8]]) {
          let next: KVCache | undefined;
          const logits = tf.tidy(() => {
            const f = m.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { cache });
            next = f.cache; // its tensors are kept (tf.keep) by the model
            return f.logits;
          });
          out.push(Array.from(logits.dataSync()));
          logits.dispose();
          disposeCache(cache);
          cache = next!;
        }
        out.push(...cache.layers.flatMap((l) => [Array.from(l.k.dataSync()), Array.from(l.v.dataSync())]));
        assert.deepEqual(cache.layers[0].k.shape, [1, 4, 9, 8]);
        disposeCache(cache);
        return out;
      });
      r.reference.forEach((ref, i) => assertClose(r.fused[i], ref, 1e-5, `output ${i}`));
    } finally {
      m.dispose();
    }
  });

  it('a short training run (AdamW, clipping) gives the same losses and weights, and leaks no tensors', () => {
    const config: GPTConfig = {
      vocabSize: 80,
      contextLength: 16,
      nEmbd: 32,
      nLayer: 2,
      nHead: 4,
      positionEncoding: 'learned',
    };
    const B = 4;
    const T = 16;
    const run = () => {
      const m = GPT.create(config, 5);
      const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
      const losses: number[] = [];
      const before = tf.memory().numTensors;
      for (let s = 0; s < 6; s++) {
        const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + s * 3) % 80);
        const y = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + s * 3 + 1) % 80);
        losses.push(trainStep(m, opt, { x, y, B, T }, 3e-3, 0.5).loss);
      }
      const leaked = tf.memory().numTensors - before;
      const w = m.weights();
      m.dispose();
      opt.dispose();
      return { losses, w, leaked };
    };
    const r = bothPaths(run);
    assert.equal(r.fused.leaked, 0, 'tensors leaked by fused training steps');
    assert.ok(r.fused.losses[5] < r.fused.losses[0] - 0.05, `it learns: ${r.fused.losses.join(', ')}`);
    assertClose(r.fused.losses, r.reference.losses, 1e-4, 'losses');
    for (const [name, ref] of r.reference.w) assertClose(r.fused.w.get(name)!, ref, 1e-3, name);
  });
});
