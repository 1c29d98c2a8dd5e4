/** What the KV-cached decoding tests share: a small model with clear logits, the reference logits, a comparison. */
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { setFastKernels } from '../../../src/core/kernels';
import { fastKernelsEnabled } from '../../../src/core/kernels/switch';
import { GPTConfig } from '../../../src/core/model/config';
import { GPT, initialWeights } from '../../../src/core/model/gpt';
import type { Tokenizer } from '../../../src/core/tokenizer';

/** GPT-2's recipe at a size a test runs in milliseconds; vocabulary 97 (96 is end of text in `decodingTokenizer`). */
export const SMALL_GPT2: GPTConfig = {
  vocabSize: 97,
  contextLength: 24,
  nEmbd: 32,
  nLayer: 2,
  nHead: 4,
  positionEncoding: 'learned',
};

/** Generation needs only the end-of-text id and a decoder of tokens. */
export const decodingTokenizer = {
  specials: { endOfText: 96 },
  decodeText: (t: number[]) => t.join(' '),
} as unknown as Tokenizer;

/** Initial weights with the matrices ×10 (not LayerNorms or biases), so logits differ clearly between tokens. */
export function largeWeights(c: GPTConfig, seed: number): Map<string, Float32Array> {
  const w = initialWeights(c, seed);
  for (const [name, a] of w) if (!/ln_|bias/.test(name)) for (let i = 0; i < a.length; i++) a[i] *= 10;
  return w;
}

/** The reference path's logits at every position of `ids` (plain tfjs ops, no fused kernels). */
export function fullLogits(m: GPT, ids: number[]): Float32Array {
  const fast = fastKernelsEnabled();
  setFastKernels(false);
  try {
    return tf.tidy(() => m.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.dataSync() as Float32Array);
  } finally {
    setFastKernels(fast);
  }
}

/** Equal within 1e-4, relative to 1 + |b|. */
export function assertClose(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  assert.ok(worst < 1e-4, `${what}: off by ${worst}`);
}
