import type * as tf from '@tensorflow/tfjs-core';

/*
 * The later stages read their results with `await data()`: the webgpu backend cannot read synchronously in Node,
 * and on wasm data() resolves from the heap at once, so it costs nothing there.
 */

/** The tensors' values, then the tensors disposed (also when a read fails). */
export async function readAndDispose(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  try {
    return (await Promise.all(tensors.map((t) => t.data()))) as Float32Array[];
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/** Scalars' values, then the scalars disposed. */
export async function readScalars(scalars: tf.Tensor[]): Promise<number[]> {
  return (await readAndDispose(scalars)).map((d) => d[0]);
}
