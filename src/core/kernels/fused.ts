import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './customOp';
import { kernelsFor, ptr, WasmBackend } from './module';
import { GELU_DERIVATIVE } from './gelu';
import { LINEAR, LINEAR_GRAD, LINEAR_GRAD_INPUT } from './matmul';
import { KERNEL } from './register';

/*
 * Ops on the fused kernels, each with its gradient. Call them only when fastKernelsActive(); the reference
 * versions (plain tfjs) are in model/ops.ts and gpt.ts.
 */

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}) =>
  tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor | tf.Tensor[];

/**
 * Causal self-attention of packed qkv [B·T, 3C] (as c_attn writes it) with H heads → [B·T, C], heads side by
 * side: scores, mask, softmax and both products in one kernel; the backward pass in another.
 */
export function fusedAttention(qkv: tf.Tensor2D, B: number, T: number, H: number): tf.Tensor2D {
  const f = customOp<tf.Tensor2D>(([x], save) => {
    const [y, p] = run(KERNEL.attention, { qkv: x }, { B, T, H }) as tf.Tensor[];
    save([x, p]);
    return {
      value: y as tf.Tensor2D,
      gradFunc: (dy, [xs, ps]) => [run(KERNEL.attentionGrad, { qkv: xs, p: ps, dy }, { B, T, H }) as tf.Tensor],
    };
  });
  return f(qkv);
}

/**
 * The modern recipe's q and k on packed qkv [B·T, 3C]: RMS-normalised per head (`norm`, eps 1e-6, as rmsNorm) and
 * then rotated by position (`rotary`: cos, sin [≥T, hs], rows from position 0), v unchanged; → [B·T, 3C].
 */
export function fusedQkPrep(
  qkv: tf.Tensor2D,
  B: number,
  T: number,
  H: number,
  norm: boolean,
  rotary?: { cos: tf.Tensor2D; sin: tf.Tensor2D },
): tf.Tensor2D {
  const tables: Record<string, tf.Tensor> = rotary ? { cos: rotary.cos, sin: rotary.sin } : {};
  const attrs = { B, T, H, norm: norm ? 1 : 0, eps: 1e-6 };
  const f = customOp<tf.Tensor2D>(([x], save) => {
    save([x]);
    return {
      value: run(KERNEL.qkPrep, { qkv: x, ...tables }, attrs) as tf.Tensor2D,
      gradFunc: (dy, [xs]) => [run(KERNEL.qkPrepGrad, { qkv: xs, dy, ...tables }, attrs) as tf.Tensor],
    };
  });
  return f(qkv);
}

/**
 * Generation's attention (batch 1, no gradient): qkv [T, 3C] of T new positions against the cache k, v
 * [1, H, Tc, hs] (absent for an empty cache) → y [T, C] and the cache with the new positions [1, H, Tc + T, hs].
 */
export function fusedCachedAttention(
  qkv: tf.Tensor2D,
  H: number,
  past?: { k: tf.Tensor4D; v: tf.Tensor4D },
): { y: tf.Tensor2D; k: tf.Tensor4D; v: tf.Tensor4D } {
  const inputs: Record<string, tf.Tensor> = past ? { qkv, kPast: past.k, vPast: past.v } : { qkv };
  const [y, k, v] = run(KERNEL.attentionCached, inputs, { H }) as tf.Tensor[];
  return { y: y as tf.Tensor2D, k: k as tf.Tensor4D, v: v as tf.Tensor4D };
}

/** Rows of table [V, C] picked by ids [N] → [N, C]; the gradient scatters dy back to the rows. */
export function fusedEmbedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const f = customOp<tf.Tensor2D>(([t, i], save) => {
    const ii = i.dtype === 'int32' ? i : tf.cast(i, 'int32');
    save([ii]);
    return {
      value: run(KERNEL.embedding, { table: t, ids: ii }) as tf.Tensor2D,
      gradFunc: (dy, [is]) => [
        run(KERNEL.embeddingGrad, { ids: is, dy }, { V: t.shape[0] }) as tf.Tensor,
        tf.zerosLike(i),
      ],
    };
  });
  return f(table, ids);
}

/**
 * Token rows of table [V, C] picked by ids [B·T] plus the positions pos0 … pos0 + T − 1 of `positions` [P, C],
 * in one kernel each way: no slice, broadcast add or batch sum of the position gradient (→ [B·T, C]).
 */
export function fusedEmbeddingPositions(
  table: tf.Tensor2D,
  ids: tf.Tensor1D,
  positions: tf.Tensor2D,
  pos0: number,
  T: number,
): tf.Tensor2D {
  const f = customOp<tf.Tensor2D>(([t, i, p], save) => {
    const ii = i.dtype === 'int32' ? i : tf.cast(i, 'int32');
    save([ii]);
    return {
      value: run(KERNEL.embeddingPos, { table: t, ids: ii, pos: p }, { pos0, T }) as tf.Tensor2D,
      gradFunc: (dy, [is]) => {
        const attrs = { V: t.shape[0], P: p.shape[0], pos0, T };
        const [dt, dp] = run(KERNEL.embeddingPosGrad, { ids: is, dy }, attrs) as tf.Tensor[];
        return [dt, tf.zerosLike(i), dp];
      },
    };
  });
  return f(table, ids, positions);
}

/** Logit soft-cap cap·tanh(x/cap), its gradient from the output. */
export function fusedSoftCap<T extends tf.Tensor>(x: T, cap: number): T {
  const f = customOp<T>(([t], save) => {
    const y = run(KERNEL.softCap, { x: t }, { cap }) as T;
    save([y]);
    return { value: y, gradFunc: (dy, [ys]) => [run(KERNEL.softCapGrad, { y: ys, dy }, { cap }) as tf.Tensor] };
  });
  return f(x);
}

/** ReLU² (relu(x)²), keeping only x for the backward pass. */
export const fusedRelu2 = customOp<tf.Tensor>(([x], save) => {
  save([x]);
  return {
    value: run(KERNEL.relu2, { x }) as tf.Tensor,
    gradFunc: (dy, [xs]) => [run(KERNEL.relu2Grad, { x: xs, dy }) as tf.Tensor],
  };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * A loss kernel's saved gradient g times the upstream scalar dy. A training step's dy is exactly 1: then a clone
 * (shared data, no copy; the saved g itself is disposed after the backward pass) instead of a multiply over every
 * logit ([B·T, V]: config A's 2 MB read and written again).
 */
function timesUpstream(g: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  if (tf.getBackend() === 'wasm' && dy.size === 1 && dy.dtype === 'float32') {
    const b = tf.backend() as unknown as WasmBackend;
    if (new Float32Array(b.wasm.asm.memory.buffer, ptr(b, dy), 1)[0] === 1) return tf.clone(g);
  }
  return tf.mul(g, dy);
}

/** Mean cross-entropy of soft-capped logits cap·tanh(x/cap), x [N, V], against targets [N]: one kernel. */
export const SOFTCAP_CE_MAX_VOCAB = 65536;
export function fusedSoftCapCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, cap: number): tf.Scalar {
  const f = customOp<tf.Scalar>(([l, t], save) => {
    const ti = t.dtype === 'int32' ? t : tf.cast(t, 'int32');
    const [loss, grad] = run(KERNEL.softCapCrossEntropy, { logits: l, targets: ti }, { cap }) as tf.Tensor[];
    save([grad]);
    return { value: loss as tf.Scalar, gradFunc: (dy, [g]) => [timesUpstream(g, dy), tf.zerosLike(t)] };
  });
  return f(logits, targets);
}

/**
 * The global L2 norm of the gradients and the factor that clips them to `clip` (1 when clip is 0), in one
 * kernel instead of a square and a sum per gradient: [norm, factor] (no gradient).
 */
export function fusedGradNorm(grads: tf.Tensor[], clip: number): [tf.Scalar, tf.Scalar] {
  const inputs = Object.fromEntries(grads.map((g, i) => [`g${i}`, g]));
  return run(KERNEL.gradNorm, inputs, { clip }) as [tf.Scalar, tf.Scalar];
}

/** GPT-2's tanh GELU. */
export const fusedGelu = customOp<tf.Tensor>(([x], save) => {
  save([x]);
  return {
    value: run(KERNEL.gelu, { x }) as tf.Tensor,
    gradFunc: (dy, [xs]) => [run(KERNEL.geluGrad, { x: xs, dy }) as tf.Tensor],
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** LayerNorm over the last axis of x [N, C]; keeps only x and the per-row mean and 1/σ for the backward pass. */
export function fusedLayerNorm(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D | undefined,
  eps: number,
): tf.Tensor2D {
  const f = customOp<tf.Tensor2D>((inputs, save) => {
    const [xi, g, b] = inputs;
    const [y, mean, rstd] = run(KERNEL.layerNorm, b ? { x: xi, gamma: g, beta: b } : { x: xi, gamma: g }, {
      eps,
    }) as tf.Tensor[];
    save([xi, g, mean, rstd]);
    return {
      value: y as tf.Tensor2D,
      gradFunc: (dy, [xs, gs, ms, rs]) =>
        run(KERNEL.layerNormGrad, { x: xs, gamma: gs, mean: ms, rstd: rs, dy }, { withBeta: b ? 1 : 0 }) as tf.Tensor[],
    };
  });
  return beta ? f(x, gamma, beta) : f(x, gamma);
}

/** y + b for y [N, C] and b [C], whose bias gradient is one column sum (tfjs's transposes, then reduces). */
export const fusedBiasAdd = customOp<tf.Tensor2D>(([y, b]) => ({
  value: tf.add(y, b) as tf.Tensor2D,
  gradFunc: (dy) => [dy, run(KERNEL.columnSum, { x: dy }) as tf.Tensor],
})) as (y: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/**
 * x·W + b for x [N, in], W [in, out], b [out] through gemm.c (call it only where gemmVariant() loads): the bias
 * added as the product is stored, and in the backward pass the bias gradient (dy's column sums) summed while
 * xᵀ·dy packs dy — two gemm.c calls and no bias kernels. dx = dy·Wᵀ by the transposed flag.
 */
export const fusedLinear = customOp<tf.Tensor2D>(([x, w, b], save) => {
  save([x, w]);
  return {
    value: run(LINEAR, { x, w, b }) as tf.Tensor2D,
    gradFunc: (dy, [xs, ws]) => {
      const [dw, db] = run(LINEAR_GRAD, { x: xs, dy }) as tf.Tensor[];
      return [tf.matMul(dy as tf.Tensor2D, ws as tf.Tensor2D, false, true), dw, db];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/**
 * GPT-2's MLP gelu(x·W1 + b1)·W2 + b2 as one op (call it where fusedLinear runs and geluDerivativeAvailable()):
 * GELU's forward writes its derivative d, and the backward multiplies dy·W2ᵀ by d as gemm.c stores it — no
 * Multiply kernel, one customOp where there were three.
 */
export const fusedGeluMlp = customOp<tf.Tensor2D>(([x, w1, b1, w2, b2], save) => {
  const u = run(LINEAR, { x, w: w1, b: b1 });
  const [h, d] = run(GELU_DERIVATIVE, { x: u as tf.Tensor }) as tf.Tensor[];
  save([x, w1, h, d, w2]);
  return {
    value: run(LINEAR, { x: h, w: w2, b: b2 }) as tf.Tensor2D,
    gradFunc: (dy, [xs, w1s, hs, ds, w2s]) => {
      const [dw2, db2] = run(LINEAR_GRAD, { x: hs, dy }) as tf.Tensor[];
      const du = run(LINEAR_GRAD_INPUT, { dy, w: w2s, d: ds }) as tf.Tensor2D;
      const [dw1, db1] = run(LINEAR_GRAD, { x: xs, dy: du }) as tf.Tensor[];
      return [tf.matMul(du, w1s as tf.Tensor2D, false, true), dw1, db1, dw2, db2];
    },
  };
}) as (x: tf.Tensor2D, w1: tf.Tensor2D, b1: tf.Tensor1D, w2: tf.Tensor2D, b2: tf.Tensor1D) => tf.Tensor2D;

/** Mean cross-entropy of logits [N, V] against targets [N]; the forward kernel also writes the gradient. */
export function fusedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const f = customOp<tf.Scalar>(([l, t], save) => {
    const ti = t.dtype === 'int32' ? t : tf.cast(t, 'int32');
    const [loss, grad] = run(KERNEL.crossEntropy, { logits: l, targets: ti }) as tf.Tensor[];
    save([grad]);
    return { value: loss as tf.Scalar, gradFunc: (dy, [g]) => [timesUpstream(g, dy), tf.zerosLike(t)] };
  });
  return f(logits, targets);
}

export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  /** Bias corrections 1 − β₁ᵗ, 1 − β₂ᵗ. */
  bc1: number;
  bc2: number;
  eps: number;
  /** 1 − lr·weightDecay, or 1 for no decay. */
  decay: number;
}

/** One AdamW update of p with gradient g·scale and moments m, v: the new [p, m, v] (no gradient). */
export function fusedAdamW(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  scale: tf.Scalar,
  step: AdamWStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return run(KERNEL.adamw, { p, g, m, v, scale }, { ...step }) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** One parameter's part of fusedAdamWInPlace: `g` may be a view into a flat gradient (`offset` floats in). */
export interface AdamWEntry {
  p: tf.Variable;
  g: tf.Tensor;
  /** Where this parameter's gradient starts in `g`, in floats (0 for a gradient of its own). */
  offset?: number;
  m: tf.Tensor;
  v: tf.Tensor;
  /** 1 − lr·weightDecay, or 1 for no decay. */
  decay: number;
}

const ENTRY_WORDS = 7;
type Heap = WasmBackend['wasm'] & { _free(ptr: number): void };
const tables = new WeakMap<object, { at: number; entries: number }>();

/**
 * AdamW's update of every entry in one wasm call: the moments m and v in place, the weights into new buffers that
 * each variable takes (so that its data changes identity, as caches of the weights expect). True when done; false,
 * untouched, where it cannot (not wasm, or some m or v shares its memory with another tensor, which an in-place
 * write would change too) — then take fusedAdamW per parameter.
 */
export function fusedAdamWInPlace(entries: AdamWEntry[], scale: tf.Scalar, step: Omit<AdamWStep, 'decay'>): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const b = tf.backend() as unknown as WasmBackend;
  for (const e of entries) {
    for (const t of [e.p, e.g, e.m, e.v]) if (t.dtype !== 'float32') return false;
    if (b.refCount(e.m.dataId) !== 1 || b.refCount(e.v.dataId) !== 1) return false;
  }
  const k = kernelsFor(b);
  const heap = b.wasm as Heap;
  let table = tables.get(b);
  if (!table || table.entries < entries.length) {
    if (table) heap._free(table.at);
    table = { at: heap._malloc(entries.length * ENTRY_WORDS * 4), entries: entries.length };
    tables.set(b, table);
  }
  const outs = entries.map((e) => b.makeOutput(e.p.shape, 'float32'));
  // Views after the mallocs, which may have grown (and so replaced) the heap's buffer.
  const words = new Int32Array(b.wasm.asm.memory.buffer, table.at, entries.length * ENTRY_WORDS);
  const floats = new Float32Array(words.buffer, words.byteOffset, words.length);
  entries.forEach((e, i) => {
    const w = i * ENTRY_WORDS;
    words[w] = ptr(b, e.p);
    words[w + 1] = ptr(b, e.g) + (e.offset ?? 0) * 4;
    words[w + 2] = ptr(b, e.m);
    words[w + 3] = ptr(b, e.v);
    words[w + 4] = ptr(b, outs[i]);
    words[w + 5] = e.p.size;
    floats[w + 6] = e.decay;
  });
  const { lr, beta1, beta2, bc1, bc2, eps } = step;
  k.adamw_many(table.at, entries.length, ptr(b, scale), lr, beta1, beta2, bc1, bc2, eps);
  entries.forEach((e, i) => {
    const p1 = tf.engine().makeTensorFromTensorInfo(outs[i]);
    e.p.assign(p1);
    p1.dispose();
  });
  return true;
}
