import * as tf from '@tensorflow/tfjs-core';
import { gemm, gemmFused, gemmVariant } from './gemm';
import { ptr, WasmBackend } from './module';
import { fastKernelsEnabled } from './switch';

/**
 * Below this many rows of the output, a plain (untransposed, unbatched) product stays on XNNPACK: gemm.c packs B
 * on every call and computes in blocks of 4 rows, which a matrix-vector product does not repay. Transposed and
 * batched products always come here: tfjs multiplies those in a scalar loop (1–2 GFLOP/s).
 */
export const GEMM_MIN_ROWS = 16;

/** Products gemm.c has computed in this thread (tests check that it, not the fallback, ran). */
export const gemmStats = { calls: 0 };

interface Plan {
  batch: number;
  M: number;
  K: number;
  N: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

const sizeOf = (s: number[]) => s.reduce((x, y) => x * y, 1);
const same = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => v === y[i]);

/** The product's sizes, or undefined where gemm.c does not take it (a broadcast other than one shared operand). */
function plan(a: tf.TensorInfo, b: tf.TensorInfo, transA: boolean, transB: boolean): Plan | undefined {
  const [ra, rb] = [a.shape.length, b.shape.length];
  if (ra < 2 || rb < 2) return undefined;
  const M = a.shape[transA ? ra - 1 : ra - 2];
  const K = a.shape[transA ? ra - 2 : ra - 1];
  const N = b.shape[transB ? rb - 2 : rb - 1];
  if (K !== b.shape[transB ? rb - 1 : rb - 2]) return undefined; // tfjs's own kernel says what is wrong
  const [outerA, outerB] = [a.shape.slice(0, -2), b.shape.slice(0, -2)];
  const [batchA, batchB] = [sizeOf(outerA), sizeOf(outerB)];
  let outer: number[];
  if (same(outerA, outerB)) outer = outerA;
  else if (batchA === 1 && outerA.length <= outerB.length) outer = outerB;
  else if (batchB === 1 && outerB.length <= outerA.length) outer = outerA;
  else return undefined;
  return {
    batch: Math.max(batchA, batchB),
    M,
    K,
    N,
    strideA: batchA === 1 ? 0 : M * K,
    strideB: batchB === 1 ? 0 : K * N,
    outShape: [...outer, M, N],
  };
}

/**
 * Replaces the wasm backend's BatchMatMul with gemm.c (a register-blocked SIMD GEMM, measured 1.2–1.7× XNNPACK
 * on the training shapes, bench/matmul.ts) for float32 products; everything else, small plain products and the
 * reference path (GPTLAB_KERNELS=reference) run tfjs's own.
 */
export function overrideBatchMatMul(): void {
  const original = tf.getKernel(tf.BatchMatMul, 'wasm');
  if (!original) return;
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      const variant = fastKernelsEnabled() ? gemmVariant() : undefined;
      const p = variant && a.dtype === 'float32' && b.dtype === 'float32' && plan(a, b, transposeA, transposeB);
      const plain = p && !transposeA && !transposeB && p.batch === 1;
      if (!variant || !p || (plain && p.M < GEMM_MIN_ROWS) || p.batch * p.M * p.N === 0) {
        return original.kernelFunc(args);
      }
      const backend = args.backend as unknown as WasmBackend;
      const out = backend.makeOutput(p.outShape, 'float32');
      const ok = gemm(
        backend,
        variant,
        [ptr(backend, a), ptr(backend, b), ptr(backend, out)],
        [p.batch, p.M, p.K, p.N],
        transposeA,
        transposeB,
        [p.strideA, p.strideB],
      );
      if (ok) {
        gemmStats.calls++;
        return out;
      }
      (args.backend as unknown as { disposeData(id: object): void }).disposeData(out.dataId);
      return original.kernelFunc(args);
    },
  });
}

/** A linear layer's forward x·W + b and backward [xᵀ·dy, column sums of dy] as one gemm.c call each. */
export const LINEAR = 'GptLabLinear';
export const LINEAR_GRAD = 'GptLabLinearGrad';
/** dx = (dy·Wᵀ) ⊙ d: the input gradient of a linear layer that follows an activation with derivative d. */
export const LINEAR_GRAD_INPUT = 'GptLabLinearGradInput';

function runFused(
  backend: WasmBackend,
  ptrs: [number, number, number],
  dims: [number, number, number],
  [transA, transB]: [boolean, boolean],
  extras: { bias?: number; colsum?: number; mul?: number },
): void {
  const variant = gemmVariant();
  if (!variant || !gemmFused(backend, variant, ptrs, dims, transA, transB, extras)) {
    throw new Error('gemm.c does not load here: linear layers take matMul and a bias add instead');
  }
  gemmStats.calls++;
}

/**
 * Registers LINEAR (x [N, in], w [in, out], b [out] → y [N, out]), LINEAR_GRAD (x, dy → [dW, db]) and
 * LINEAR_GRAD_INPUT (dy, w, d [N, in] → dx).
 */
export function registerLinearKernels(): void {
  tf.registerKernel({
    kernelName: LINEAR,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { x, w, b } = inputs as { x: tf.TensorInfo; w: tf.TensorInfo; b: tf.TensorInfo };
      const be = backend as unknown as WasmBackend;
      const [N, K] = x.shape;
      const out = w.shape[1];
      const y = be.makeOutput([N, out], 'float32');
      runFused(be, [ptr(be, x), ptr(be, w), ptr(be, y)], [N, K, out], [false, false], { bias: ptr(be, b) });
      return y;
    },
  });
  tf.registerKernel({
    kernelName: LINEAR_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const be = backend as unknown as WasmBackend;
      const [N, K] = x.shape;
      const out = dy.shape[1];
      const dw = be.makeOutput([K, out], 'float32');
      const db = be.makeOutput([out], 'float32');
      runFused(be, [ptr(be, x), ptr(be, dy), ptr(be, dw)], [K, N, out], [true, false], { colsum: ptr(be, db) });
      return [dw, db];
    },
  });
  tf.registerKernel({
    kernelName: LINEAR_GRAD_INPUT,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { dy, w, d } = inputs as { dy: tf.TensorInfo; w: tf.TensorInfo; d: tf.TensorInfo };
      const be = backend as unknown as WasmBackend;
      const [N, out] = dy.shape;
      const K = w.shape[0];
      const dx = be.makeOutput([N, K], 'float32');
      runFused(be, [ptr(be, dy), ptr(be, w), ptr(be, dx)], [N, out, K], [false, true], { mul: ptr(be, d) });
      return dx;
    },
  });
}
