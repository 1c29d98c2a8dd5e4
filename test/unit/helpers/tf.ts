import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../src/core/backend';
import { GPTConfig } from '../../../src/core/model/config';

/** The embedded default backend, as users get it after `npm ci`. */
export async function useWasm(): Promise<void> {
  await initBackend('wasm');
}

export const TINY: GPTConfig = {
  vocabSize: 300,
  contextLength: 16,
  nEmbd: 16,
  nLayer: 2,
  nHead: 2,
  positionEncoding: 'learned',
};

/** A few small "source files" with a strong repeated pattern. */
export function codeFiles(n = 6): { path: string; bytes: Uint8Array }[] {
  const enc = new TextEncoder();
  return Array.from({ length: n }, (_, i) => ({
    path: `src/file${i}.ts`,
    bytes: enc.encode(
      Array.from(
        { length: 30 },
        (_, j) => `export function add${i}_${j}(a: number, b: number): number {\n  return a + b + ${j};\n}\n`,
      ).join('\n'),
    ),
  }));
}

export function numTensors(): number {
  return tf.memory().numTensors;
}
