import * as tf from '@tensorflow/tfjs-core';

/*
 * Fixes to tfjs-webgpu 4.22's kernels for what GPT Lab's model does. Its AddN binds every input as a storage
 * buffer of one shader, so summing more tensors than the device allows per shader stage (8 by default, 16 on
 * llvmpipe; the optimizer's gradient norm adds one per parameter) fails validation and the loss turns NaN. Its
 * Concat already splits by the same limit; AddN here sums in chunks the same way.
 */

type KernelArgs = Parameters<tf.KernelFunc>[0];
interface WebGpuDevice {
  limits: { maxStorageBuffersPerShaderStage: number };
}

let patched = false;

/** Wraps the registered webgpu AddN (once per process) so each shader binds at most the device's limit. */
export function patchWebGpuKernels(): void {
  if (patched) return;
  const addN = tf.getKernel(tf.AddN, 'webgpu');
  if (!addN) return;
  patched = true;
  tf.unregisterKernel(tf.AddN, 'webgpu');
  tf.registerKernel({
    ...addN,
    kernelFunc: (args: KernelArgs) => {
      const backend = args.backend as unknown as { device: WebGpuDevice; disposeData(id: object): void };
      const maxInputs = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1); // one is the output
      return sumInChunks(
        args.inputs as unknown as tf.TensorInfo[],
        maxInputs,
        (inputs) => addN.kernelFunc({ ...args, inputs: inputs as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo,
        (t) => backend.disposeData(t.dataId),
      );
    },
  });
}

/** Σ inputs with `add` taking at most `max` at a time; the partial sums are disposed once summed. */
export function sumInChunks<T>(inputs: T[], max: number, add: (xs: T[]) => T, dispose: (x: T) => void): T {
  if (inputs.length <= max) return add(inputs);
  const partial: T[] = [];
  for (let i = 0; i < inputs.length; i += max) {
    const chunk = inputs.slice(i, i + max);
    partial.push(chunk.length === 1 ? chunk[0] : add(chunk));
  }
  const out = sumInChunks(partial, max, add, dispose);
  for (let i = 0; i < partial.length; i++) if (inputs.length - i * max > 1) dispose(partial[i]);
  return out;
}
