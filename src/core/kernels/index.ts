import * as tf from '@tensorflow/tfjs-core';
import { kernelsFor, ptr, WasmBackend } from './module';
import { registerKernels } from './register';
import { fastKernelsEnabled } from './switch';

export { setKernelDirectory } from './module';
export * from './fused';
export { setFastKernels } from './switch';

/*
 * The switch between GPT Lab's fused wasm kernels (kernels.c) and the reference path of plain tfjs ops.
 * Fast by default on the wasm backend; GPTLAB_KERNELS=reference (or setFastKernels(false)) picks the reference
 * path, which tests compare against.
 */

const unusable = new WeakSet<object>(); // backends whose kernels failed to load

/** Whether ops should take the fused kernels now: switched on, on the wasm backend, and the module loads. */
export function fastKernelsActive(): boolean {
  if (!fastKernelsEnabled() || tf.getBackend() !== 'wasm') return false;
  const backend = tf.backend();
  if (unusable.has(backend)) return false;
  try {
    registerKernels();
    kernelsFor(backend as unknown as WasmBackend);
    return true;
  } catch (err) {
    unusable.add(backend);
    process.emitWarning(`GPT Lab's fused kernels are off: ${(err as Error).message}`);
    return false;
  }
}

/**
 * A float32 tensor's data as a view of the wasm heap (no copy; valid only until the next tfjs op, which may grow
 * the heap), or its dataSync() copy on another backend.
 */
export function floatView(t: tf.Tensor): Float32Array {
  if (tf.getBackend() !== 'wasm' || t.dtype !== 'float32') return t.dataSync() as Float32Array;
  const b = tf.backend() as unknown as WasmBackend;
  return new Float32Array(b.wasm.asm.memory.buffer, ptr(b, t), t.size);
}

/** Whether tf.tensor(values) copies `values` at once (wasm moves them onto its heap), so they may be reused. */
export function tensorCopiesValues(): boolean {
  return tf.getBackend() === 'wasm';
}
