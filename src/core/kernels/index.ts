import * as tf from '@tensorflow/tfjs-core';
import { kernelsFor, WasmBackend } from './module';
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
