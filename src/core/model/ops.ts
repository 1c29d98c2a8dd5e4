import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients on its own (its ESM register_all_gradients does not load in Node);
// the union package's Node bundle registers them all.
import '@tensorflow/tfjs';
import { customOp } from '../kernels/customOp';
import { GELU_DERIVATIVE, geluDerivativeAvailable } from '../kernels/gelu';
import { gemmVariant } from '../kernels/gemm';
import { GEMM_MIN_ROWS } from '../kernels/matmul';
import {
  fastKernelsActive,
  fusedBiasAdd,
  fusedCrossEntropy,
  fusedEmbedding,
  fusedGelu,
  fusedGeluMlp,
  fusedLayerNorm,
  fusedLinear,
  fusedRelu2,
  fusedSoftCap,
} from '../kernels';

/*
 * Building blocks with hand-written gradients where tfjs's own would be slow or missing on wasm:
 * - wasm multiplies fast (XNNPACK) only when neither operand is transposed, but tf.matMul's gradient
 *   uses transposed matmuls; so we transpose explicitly and multiply plainly — unless gemm.c is on, which
 *   multiplies transposed operands at full speed (transposedProductsFast).
 * - tf.gather's gradient needs UnsortedSegmentSum, which wasm lacks; a scatter-add in JS is quick.
 * On wasm, the embedding, GELU, LayerNorm, soft-cap, bias gradients and cross-entropy take GPT Lab's fused kernels (src/core/kernels)
 * unless GPTLAB_KERNELS=reference; the plain-tfjs code here is the reference they are tested against.
 */

/**
 * Whether a transposed or batched product runs at full speed: gemm.c (src/core/kernels/matmul.ts) takes the
 * transpose flags inside its packing, so a flag costs nothing and saves a Transpose kernel and its copy. Off it
 * (GPTLAB_KERNELS=reference, GPTLAB_GEMM=off, another backend) products transpose explicitly, as the reference.
 */
export function transposedProductsFast(): boolean {
  return fastKernelsActive() && gemmVariant() !== undefined;
}

/** x·W for 2-D x [N, in] and W [in, out], with a backward pass of plain (non-transposed) matmuls. */
export const matMulPlain = customOp<tf.Tensor2D>(([x, w], save) => {
  save([x, w]);
  return {
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy, [xs, ws]) =>
      transposedProductsFast()
        ? [
            tf.matMul(dy as tf.Tensor2D, ws as tf.Tensor2D, false, true),
            tf.matMul(xs as tf.Tensor2D, dy as tf.Tensor2D, true),
          ]
        : [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)],
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** Batched a·b for [B, M, K] × [B, K, N], whose gradient also multiplies without transposed flags. */
export const batchMatMulPlain = customOp<tf.Tensor3D>(([a, b], save) => {
  save([a, b]);
  return {
    value: bmm(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy, [as, bs]) =>
      transposedProductsFast()
        ? [
            tf.matMul(dy as tf.Tensor3D, bs as tf.Tensor3D, false, true),
            tf.matMul(as as tf.Tensor3D, dy as tf.Tensor3D, true),
          ]
        : [
            bmm(dy as tf.Tensor3D, tf.transpose(bs, [0, 2, 1]) as tf.Tensor3D),
            bmm(tf.transpose(as, [0, 2, 1]) as tf.Tensor3D, dy as tf.Tensor3D),
          ],
  };
}) as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

/**
 * [B, M, K] × [B, K, N]. wasm multiplies a batch (B > 1) in a slow scalar loop, but a single 2-D product on
 * XNNPACK's fast path. Cutting the batch into 2-D products pays off once each product is large (measured:
 * 1.2× faster training for `base` (256·64·256 per product), 1.4–2× slower for `small` and configs A and B).
 */
const SPLIT_BATCH_MIN_MACS = 2 ** 22;
function bmm(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [B, M, K] = a.shape;
  if (B === 1 || M * K * b.shape[2] < SPLIT_BATCH_MIN_MACS || tf.getBackend() !== 'wasm') return tf.matMul(a, b);
  const as = tf.unstack(a) as tf.Tensor2D[];
  const bs = tf.unstack(b) as tf.Tensor2D[];
  return tf.stack(as.map((x, i) => tf.matMul(x, bs[i]))) as tf.Tensor3D;
}

/**
 * x·W + b for x [N, in]. With a bias on gemm.c, one kernel each way (fusedLinear: the bias and its gradient
 * inside the products); a product of few rows (generation) stays on XNNPACK, as in matmul.ts.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (b && x.shape[0] >= GEMM_MIN_ROWS && x.dtype === 'float32' && transposedProductsFast()) {
    return fusedLinear(x, w, b);
  }
  const y = matMulPlain(x, w);
  if (!b) return y;
  return fastKernelsActive() ? fusedBiasAdd(y, b) : tf.add(y, b);
}

/**
 * GPT-2's MLP gelu(x·W1 + b1)·W2 + b2, x [N, C]: one op on gemm.c with biases (fusedGeluMlp: the GELU derivative's
 * multiply inside the backward product), else the layers one by one.
 */
export function geluMlp(
  x: tf.Tensor2D,
  w1: tf.Tensor2D,
  b1: tf.Tensor1D | undefined,
  w2: tf.Tensor2D,
  b2?: tf.Tensor1D,
) {
  if (b1 && b2 && x.shape[0] >= GEMM_MIN_ROWS && x.dtype === 'float32' && transposedProductsFast()) {
    if (geluDerivativeAvailable()) return fusedGeluMlp(x, w1, b1, w2, b2);
  }
  return linear(gelu(linear(x, w1, b1)) as tf.Tensor2D, w2, b2);
}

/** Rows of table [V, C] picked by ids [N] → [N, C]; gradient by scatter-add in JS. */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (fastKernelsActive()) return fusedEmbedding(table, ids);
  const f = customOp(([t, i], save) => {
    save([i]);
    return {
      value: tf.gather(t, i),
      gradFunc: (dy, saved) => {
        const [V, C] = table.shape;
        // On a GPU the scatter-add stays there (webgpu has UnsortedSegmentSum and cannot read dy synchronously).
        if (tf.getBackend() === 'webgpu')
          return [tf.unsortedSegmentSum(dy, saved[0] as tf.Tensor1D, V), tf.zerosLike(saved[0])];
        const idx = saved[0].dataSync();
        const g = dy.dataSync();
        const out = new Float32Array(V * C);
        for (let n = 0; n < idx.length; n++) {
          const row = idx[n] * C;
          const src = n * C;
          for (let c = 0; c < C; c++) out[row + c] += g[src + c];
        }
        return [tf.tensor2d(out, [V, C]), tf.zerosLike(saved[0])];
      },
    };
  });
  return f(table, ids) as tf.Tensor2D;
}

/** LayerNorm over the last axis of x [N, C] (without a bias when `beta` is absent). */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta?: tf.Tensor1D, eps = 1e-5): tf.Tensor2D {
  if (fastKernelsActive()) return fusedLayerNorm(x, gamma, beta, eps);
  const mean = tf.mean(x, -1, true); // [N, 1]
  const centered = tf.sub(x, mean); // [N, C]
  const variance = tf.mean(tf.square(centered), -1, true); // [N, 1]
  const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, eps)));
  const scaled = tf.mul(normed, gamma);
  return (beta ? tf.add(scaled, beta) : scaled) as tf.Tensor2D;
}

/** RMSNorm without a gain over the last axis (QK-norm): x / √(mean(x²) + eps). */
export function rmsNorm<T extends tf.Tensor>(x: T, eps = 1e-6): T {
  return tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)));
}

/** ReLU² (relu(x)², modded-nanogpt's MLP): one fused kernel each way on wasm. */
export function relu2(x: tf.Tensor): tf.Tensor {
  return fastKernelsActive() ? fusedRelu2(x) : referenceRelu2(x);
}

/** ReLU² keeping only relu(x) for the backward pass: d/dx = 2·relu(x). */
const referenceRelu2 = customOp<tf.Tensor>(([x], save) => {
  const r = tf.relu(x);
  save([r]);
  return { value: tf.square(r), gradFunc: (dy, [rs]) => [tf.mul(dy, tf.mul(rs, 2))] };
}) as (x: tf.Tensor) => tf.Tensor;

/** Logit soft-cap cap·tanh(x/cap) (Gemma 2, modded-nanogpt), with d/dx = 1 − (y/cap)² from the output. */
export function softCap<T extends tf.Tensor>(x: T, cap: number): T {
  if (fastKernelsActive()) return fusedSoftCap(x, cap);
  const f = customOp<T>(([t], save) => {
    const y = tf.mul(tf.tanh(tf.div(t, cap)), cap) as T;
    save([y]);
    return { value: y, gradFunc: (dy, [ys]) => [tf.mul(dy, tf.sub(1, tf.square(tf.div(ys, cap))))] };
  });
  return f(x);
}

/**
 * Rotary position tables (RoFormer) for head size hs: cos and sin [T, hs], the frequency of pair i
 * (i < hs/2) repeated in both halves, to rotate x by `rotary` below.
 */
export function rotaryTables(T: number, hs: number, base = 10000): { cos: Float32Array; sin: Float32Array } {
  const half = hs / 2;
  const cos = new Float32Array(T * hs);
  const sin = new Float32Array(T * hs);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = t / Math.pow(base, (2 * i) / hs);
      cos[t * hs + i] = cos[t * hs + half + i] = Math.cos(a);
      sin[t * hs + i] = sin[t * hs + half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** [x2, x1] → [−x2, x1] on the last axis (x of shape [..., hs], halves x1, x2). */
function rotateHalf(x: tf.Tensor, sign: 1 | -1): tf.Tensor {
  const hs = x.shape[x.rank - 1];
  const [x1, x2] = tf.split(x, [hs / 2, hs / 2], -1);
  return sign === 1 ? tf.concat([tf.neg(x2), x1], -1) : tf.concat([x2, tf.neg(x1)], -1);
}

/**
 * Rotary embedding of x [..., T, hs] by constant tables cos, sin [T, hs]: x·cos + rotate(x)·sin. It is a
 * rotation, so the gradient is the inverse rotation of dy (no gradient to the constant tables).
 */
export function rotary<T extends tf.Tensor>(x: T, cos: tf.Tensor2D, sin: tf.Tensor2D): T {
  const f = customOp<T>(([t, c, s], save) => {
    save([c, s]);
    return {
      value: tf.add(tf.mul(t, c), tf.mul(rotateHalf(t, 1), s)) as T,
      gradFunc: (dy, [cs, ss]) => [
        tf.add(tf.mul(dy, cs), rotateHalf(tf.mul(dy, ss), -1)),
        tf.zerosLike(cs),
        tf.zerosLike(ss),
      ],
    };
  });
  return f(x, cos, sin);
}

const GELU_K = Math.sqrt(2 / Math.PI);
/**
 * GPT-2's tanh approximation of GELU, with its derivative written out so the backward pass keeps only x
 * (autodiff would keep eight intermediates the size of the MLP's hidden layer).
 */
const referenceGelu = customOp<tf.Tensor>(([x], save) => {
  save([x]);
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_K); // k·(x + 0.044715·x³)
  return {
    value: tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)),
    gradFunc: (dy, [xs]) => {
      const th = tf.tanh(tf.mul(tf.add(xs, tf.mul(tf.pow(xs, 3), 0.044715)), GELU_K));
      const dInner = tf.mul(tf.add(tf.mul(tf.square(xs), 3 * 0.044715), 1), GELU_K);
      // d/dx [½x(1 + tanh u)] = ½(1 + tanh u) + ½x(1 − tanh² u)·u′
      const d = tf.add(tf.mul(tf.add(th, 1), 0.5), tf.mul(tf.mul(tf.mul(xs, 0.5), tf.sub(1, tf.square(th))), dInner));
      return [tf.mul(dy, d)];
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** GELU whose forward (gelu.c) also writes the derivative, so its backward is one multiply (dy·d). */
const derivativeGelu = customOp<tf.Tensor>(([x], save) => {
  const [y, d] = tf.engine().runKernel(GELU_DERIVATIVE, { x }) as tf.Tensor[];
  save([d]);
  return { value: y, gradFunc: (dy, [ds]) => [tf.mul(dy, ds)] };
}) as (x: tf.Tensor) => tf.Tensor;

export function gelu(x: tf.Tensor): tf.Tensor {
  if (!fastKernelsActive()) return referenceGelu(x);
  return x.dtype === 'float32' && geluDerivativeAvailable() ? derivativeGelu(x) : fusedGelu(x);
}

/**
 * Mean cross-entropy of logits [N, V] against integer targets [N], with the fused gradient
 * (softmax − one-hot) / N instead of autodiff through log-softmax.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  if (fastKernelsActive()) return fusedCrossEntropy(logits, targets);
  const f = customOp<tf.Scalar>(([l, t], save) => {
    const [N, V] = l.shape as [number, number];
    const logp = tf.logSoftmax(l as tf.Tensor2D); // [N, V]
    const oneHot = tf.oneHot(t as tf.Tensor1D, V); // [N, V]
    const loss = tf.neg(tf.div(tf.sum(tf.mul(logp, oneHot)), N));
    save([logp, oneHot]);
    return {
      value: loss as tf.Scalar,
      gradFunc: (dy, [lp, oh]) => {
        const g = tf.mul(tf.sub(tf.exp(lp), oh), tf.div(dy, N));
        return [g, tf.zerosLike(t)];
      },
    };
  });
  return f(logits, targets);
}

/**
 * Log-probability of each target under logits [N, V] → [N], with the fused gradient dy·(one-hot − softmax) per
 * row: what SFT masks, DPO sums over a completion and PPO ratios need, without autodiff through log-softmax.
 */
export function tokenLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const f = customOp<tf.Tensor1D>(([l, t], save) => {
    const V = l.shape[1] as number;
    const logp = tf.logSoftmax(l as tf.Tensor2D); // [N, V]
    const oneHot = tf.oneHot(t as tf.Tensor1D, V); // [N, V]
    save([logp, oneHot]);
    return {
      value: tf.sum(tf.mul(logp, oneHot), 1) as tf.Tensor1D,
      gradFunc: (dy, [lp, oh]) => [tf.mul(tf.sub(oh, tf.exp(lp)), tf.expandDims(dy, 1)), tf.zerosLike(t)],
    };
  });
  return f(logits, targets);
}

/** Mean cross-entropy over the positions where `mask` [N] is 1 (SFT: completion tokens only). */
export function maskedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, mask: tf.Tensor1D): tf.Scalar {
  const n = tf.maximum(tf.sum(mask), 1);
  return tf.neg(tf.div(tf.sum(tf.mul(tokenLogProbs(logits, targets), mask)), n)) as tf.Scalar;
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, −1e9 above (a constant, so no gradient needed). */
export function causalMask(T: number): tf.Tensor2D {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return tf.tensor2d(m, [T, T]);
}

/** Fixed sinusoidal position encodings [T, C]. */
export function sinusoids(T: number, C: number): Float32Array {
  const out = new Float32Array(T * C);
  for (let pos = 0; pos < T; pos++) {
    for (let i = 0; i < C; i += 2) {
      const angle = pos / Math.pow(10000, i / C);
      out[pos * C + i] = Math.sin(angle);
      if (i + 1 < C) out[pos * C + i + 1] = Math.cos(angle);
    }
  }
  return out;
}
