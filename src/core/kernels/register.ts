import * as tf from '@tensorflow/tfjs-core';
import { overrideBatchMatMul, registerLinearKernels } from './matmul';
import { KernelExports, kernelsFor, ptr, WasmBackend } from './module';
import { fastKernelsEnabled } from './switch';

/*
 * tfjs kernels (for the wasm backend) around the functions of kernels.c. Each allocates its outputs on the
 * wasm heap (makeOutput) and hands the C function the heap offsets of inputs and outputs: no copies.
 */

type Inputs = Record<string, tf.TensorInfo | undefined>;
type Run = (
  k: KernelExports,
  b: WasmBackend,
  inputs: Inputs,
  attrs: Record<string, number>,
) => tf.TensorInfo | tf.TensorInfo[];

export const KERNEL = {
  attention: 'GptLabAttention',
  attentionGrad: 'GptLabAttentionGrad',
  attentionCached: 'GptLabAttentionCached',
  gelu: 'GptLabGelu',
  geluGrad: 'GptLabGeluGrad',
  layerNorm: 'GptLabLayerNorm',
  layerNormGrad: 'GptLabLayerNormGrad',
  crossEntropy: 'GptLabCrossEntropy',
  columnSum: 'GptLabColumnSum',
  adamw: 'GptLabAdamW',
  qkPrep: 'GptLabQkPrep',
  qkPrepGrad: 'GptLabQkPrepGrad',
  softCap: 'GptLabSoftCap',
  softCapGrad: 'GptLabSoftCapGrad',
  embedding: 'GptLabEmbedding',
  embeddingGrad: 'GptLabEmbeddingGrad',
  embeddingPos: 'GptLabEmbeddingPos',
  embeddingPosGrad: 'GptLabEmbeddingPosGrad',
  relu2: 'GptLabRelu2',
  relu2Grad: 'GptLabRelu2Grad',
  gradNorm: 'GptLabGradNorm',
  softCapCrossEntropy: 'GptLabSoftCapCrossEntropy',
} as const;

const size = (t: tf.TensorInfo) => t.shape.reduce((a, b) => a * b, 1);
const f32 = (b: WasmBackend, shape: number[]) => b.makeOutput(shape, 'float32');

const RUNS: Record<string, Run> = {
  [KERNEL.attention]: (k, b, { qkv }, { B, T, H }) => {
    const C = qkv!.shape[1] / 3;
    const y = f32(b, [B * T, C]);
    const p = f32(b, [B * H, T, T]);
    k.attention_forward(ptr(b, qkv!), ptr(b, y), ptr(b, p), B, T, H, C / H, 1 / Math.sqrt(C / H));
    return [y, p];
  },
  [KERNEL.attentionGrad]: (k, b, { qkv, p, dy }, { B, T, H }) => {
    const C = qkv!.shape[1] / 3;
    const dqkv = f32(b, qkv!.shape);
    k.attention_backward(ptr(b, qkv!), ptr(b, p!), ptr(b, dy!), ptr(b, dqkv), B, T, H, C / H, 1 / Math.sqrt(C / H));
    return dqkv;
  },
  [KERNEL.attentionCached]: (k, b, { qkv, kPast, vPast }, { H }) => {
    const [T, C3] = qkv!.shape;
    const hs = C3 / 3 / H;
    const Tc = kPast ? kPast.shape[2] : 0;
    const [y, kOut, vOut] = [f32(b, [T, C3 / 3]), f32(b, [1, H, Tc + T, hs]), f32(b, [1, H, Tc + T, hs])];
    const [kp, vp] = kPast && vPast ? [ptr(b, kPast), ptr(b, vPast)] : [0, 0];
    k.attention_cached(ptr(b, qkv!), kp, vp, ptr(b, kOut), ptr(b, vOut), ptr(b, y), T, Tc, H, hs, 1 / Math.sqrt(hs));
    return [y, kOut, vOut];
  },
  [KERNEL.gelu]: (k, b, { x }) => {
    const y = f32(b, x!.shape);
    k.gelu_forward(ptr(b, x!), ptr(b, y), size(x!));
    return y;
  },
  [KERNEL.geluGrad]: (k, b, { x, dy }) => {
    const dx = f32(b, x!.shape);
    k.gelu_backward(ptr(b, x!), ptr(b, dy!), ptr(b, dx), size(x!));
    return dx;
  },
  [KERNEL.layerNorm]: (k, b, { x, gamma, beta }, { eps }) => {
    const [N, C] = x!.shape;
    const y = f32(b, [N, C]);
    const mean = f32(b, [N]);
    const rstd = f32(b, [N]);
    k.layernorm_forward(
      ptr(b, x!),
      ptr(b, gamma!),
      beta ? ptr(b, beta) : 0,
      ptr(b, y),
      ptr(b, mean),
      ptr(b, rstd),
      N,
      C,
      eps,
    );
    return [y, mean, rstd];
  },
  [KERNEL.layerNormGrad]: (k, b, { x, gamma, mean, rstd, dy }, { withBeta }) => {
    const [N, C] = x!.shape;
    const dx = f32(b, [N, C]);
    const dgamma = f32(b, [C]);
    const dbeta = withBeta ? f32(b, [C]) : undefined;
    k.layernorm_backward(
      ptr(b, x!),
      ptr(b, gamma!),
      ptr(b, mean!),
      ptr(b, rstd!),
      ptr(b, dy!),
      ptr(b, dx),
      ptr(b, dgamma),
      dbeta ? ptr(b, dbeta) : 0,
      N,
      C,
    );
    return dbeta ? [dx, dgamma, dbeta] : [dx, dgamma];
  },
  [KERNEL.crossEntropy]: (k, b, { logits, targets }) => {
    const [N, V] = logits!.shape;
    const loss = f32(b, []);
    const grad = f32(b, [N, V]);
    k.cross_entropy(ptr(b, logits!), ptr(b, targets!), ptr(b, loss), ptr(b, grad), N, V);
    return [loss, grad];
  },
  [KERNEL.columnSum]: (k, b, { x }) => {
    const [N, C] = x!.shape;
    const out = f32(b, [C]);
    k.column_sum(ptr(b, x!), ptr(b, out), N, C);
    return out;
  },
  [KERNEL.qkPrep]: (k, b, { qkv, cos, sin }, { B, T, H, norm, eps }) => {
    const out = f32(b, qkv!.shape);
    const [c, s] = cos && sin ? [ptr(b, cos), ptr(b, sin)] : [0, 0];
    k.qk_prep_forward(ptr(b, qkv!), ptr(b, out), c, s, B, T, H, qkv!.shape[1] / 3 / H, norm, eps);
    return out;
  },
  [KERNEL.qkPrepGrad]: (k, b, { qkv, dy, cos, sin }, { B, T, H, norm, eps }) => {
    const dqkv = f32(b, qkv!.shape);
    const [c, s] = cos && sin ? [ptr(b, cos), ptr(b, sin)] : [0, 0];
    k.qk_prep_backward(ptr(b, qkv!), ptr(b, dy!), ptr(b, dqkv), c, s, B, T, H, qkv!.shape[1] / 3 / H, norm, eps);
    return dqkv;
  },
  [KERNEL.softCap]: (k, b, { x }, { cap }) => {
    const y = f32(b, x!.shape);
    k.softcap_forward(ptr(b, x!), ptr(b, y), size(x!), cap);
    return y;
  },
  [KERNEL.softCapGrad]: (k, b, { y, dy }, { cap }) => {
    const dx = f32(b, y!.shape);
    k.softcap_backward(ptr(b, y!), ptr(b, dy!), ptr(b, dx), size(y!), cap);
    return dx;
  },
  [KERNEL.embedding]: (k, b, { table, ids }) => {
    const [V, C] = table!.shape;
    const out = f32(b, [size(ids!), C]);
    k.embedding_forward(ptr(b, table!), ptr(b, ids!), ptr(b, out), size(ids!), V, C);
    return out;
  },
  [KERNEL.embeddingGrad]: (k, b, { ids, dy }, { V }) => {
    const C = dy!.shape[1];
    const dtable = f32(b, [V, C]);
    k.embedding_backward(ptr(b, ids!), ptr(b, dy!), ptr(b, dtable), size(ids!), V, C);
    return dtable;
  },
  [KERNEL.embeddingPos]: (k, b, { table, ids, pos }, { pos0, T }) => {
    const [V, C] = table!.shape;
    const out = f32(b, [size(ids!), C]);
    k.embedding_pos_forward(
      ptr(b, table!),
      ptr(b, ids!),
      ptr(b, pos!) + pos0 * C * 4,
      ptr(b, out),
      size(ids!),
      V,
      C,
      T,
    );
    return out;
  },
  [KERNEL.embeddingPosGrad]: (k, b, { ids, dy }, { V, P, pos0, T }) => {
    const C = dy!.shape[1];
    const [dtable, dpos] = [f32(b, [V, C]), f32(b, [P, C])];
    k.embedding_pos_backward(ptr(b, ids!), ptr(b, dy!), ptr(b, dtable), ptr(b, dpos), size(ids!), V, C, T, P, pos0);
    return [dtable, dpos];
  },
  [KERNEL.relu2]: (k, b, { x }) => {
    const y = f32(b, x!.shape);
    k.relu2_forward(ptr(b, x!), ptr(b, y), size(x!));
    return y;
  },
  [KERNEL.relu2Grad]: (k, b, { x, dy }) => {
    const dx = f32(b, x!.shape);
    k.relu2_backward(ptr(b, x!), ptr(b, dy!), ptr(b, dx), size(x!));
    return dx;
  },
  // Every input is a gradient: [global L2 norm, clip factor min(1, clip / (norm + 1e-6))] (clip 0: factor 1).
  [KERNEL.gradNorm]: (k, b, grads, { clip }) => {
    let total = 0;
    for (const g of Object.values(grads)) total += k.sum_squares(ptr(b, g!), size(g!));
    const norm = Math.sqrt(total);
    const [n, s] = [f32(b, []), f32(b, [])];
    const heap = new Float32Array(b.wasm.asm.memory.buffer);
    heap[ptr(b, n) >> 2] = norm;
    heap[ptr(b, s) >> 2] = clip > 0 ? Math.min(1, clip / (norm + 1e-6)) : 1;
    return [n, s];
  },
  [KERNEL.softCapCrossEntropy]: (k, b, { logits, targets }, { cap }) => {
    const [N, V] = logits!.shape;
    const loss = f32(b, []);
    const grad = f32(b, [N, V]);
    k.softcap_cross_entropy(ptr(b, logits!), ptr(b, targets!), ptr(b, loss), ptr(b, grad), N, V, cap);
    return [loss, grad];
  },
  [KERNEL.adamw]: (k, b, { p, g, m, v, scale }, a) => {
    const [p1, m1, v1] = [f32(b, p!.shape), f32(b, p!.shape), f32(b, p!.shape)];
    k.adamw(
      ...([p, g, m, v, scale, p1, m1, v1].map((t) => ptr(b, t!)) as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ]),
      size(p!),
      a.lr,
      a.beta1,
      a.beta2,
      a.bc1,
      a.bc2,
      a.eps,
      a.decay,
    );
    return [p1, m1, v1];
  },
};

/** For a perm that swaps the last two axes and keeps the others ([1, 0], [0, 2, 1], …): the batch, else 0. */
function swapLastTwo(shape: number[], perm: number[]): number {
  const r = perm.length;
  if (r < 2 || perm[r - 2] !== r - 1 || perm[r - 1] !== r - 2) return 0;
  for (let i = 0; i < r - 2; i++) if (perm[i] !== i) return 0;
  return shape.slice(0, r - 2).reduce((a, b) => a * b, 1);
}

/**
 * Replaces the wasm backend's Transpose with a tiled SIMD one for the swap of the last two axes (of 4-byte
 * elements); every other case, and the reference path, still run tfjs's own.
 */
function overrideTranspose(): void {
  const original = tf.getKernel('Transpose', 'wasm');
  if (!original) return;
  tf.unregisterKernel('Transpose', 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const perm = (args.attrs as { perm: number[] }).perm;
      const batch = swapLastTwo(x.shape, perm);
      if (!fastKernelsEnabled() || batch === 0 || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
        return original.kernelFunc(args);
      }
      const b = args.backend as unknown as WasmBackend;
      const [R, C] = x.shape.slice(-2);
      const out = b.makeOutput(
        perm.map((p) => x.shape[p]),
        x.dtype,
      );
      kernelsFor(b).transpose(ptr(b, x), ptr(b, out), batch, R, C);
      return out;
    },
  });
}

/**
 * tfjs's Identity on wasm copies the data; the engine calls it for every tensor a gradient saves (engine.clone)
 * and every custom-gradient output. Tensors are immutable, so sharing the data (by reference count, as the cpu
 * backend and wasm's own Reshape do) is enough.
 */
function overrideIdentity(): void {
  const original = tf.getKernel('Identity', 'wasm');
  if (!original) return;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (!fastKernelsEnabled() || x.dtype === 'string') return original.kernelFunc(args);
      (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

let registered = false;
/** Registers the kernels for the wasm backend (once per process). */
export function registerKernels(): void {
  if (registered) return;
  registered = true;
  overrideTranspose();
  overrideIdentity();
  overrideBatchMatMul();
  registerLinearKernels();
  for (const [kernelName, run] of Object.entries(RUNS)) {
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as unknown as WasmBackend;
        return run(kernelsFor(b), b, inputs as Inputs, (attrs ?? {}) as Record<string, number>);
      },
    });
  }
}
