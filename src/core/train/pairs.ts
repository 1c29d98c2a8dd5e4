import * as tf from '@tensorflow/tfjs-core';
import type { Preference } from '../data/preferences';
import type { GPT } from '../model/gpt';
import { linear, tokenLogProbs } from '../model/ops';
import type { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';
import { readAndDispose } from './readAsync';
import { EncodedExample, encodeExample, padBatch, SftBatch } from './sftTask';

/** A pair as two token sequences in the plain form (prompt then response then end-of-text). */
export interface EncodedPair {
  chosen: EncodedExample;
  rejected: EncodedExample;
}

export function encodePairs(tok: Tokenizer, pairs: Preference[], contextLength: number): EncodedPair[] {
  return pairs.map((p) => ({
    chosen: encodeExample(tok, { prompt: p.prompt, completion: p.chosen }, contextLength + 1).plain,
    rejected: encodeExample(tok, { prompt: p.prompt, completion: p.rejected }, contextLength + 1).plain,
  }));
}

/** B pairs as 2B rows: the chosen responses, then the rejected ones; `index` says which pairs. */
export interface PairBatch {
  rows: SftBatch;
  /** Inputs with the last token included (for scoring the whole sequence), [2B, T'] and one-hot last positions. */
  full: { x: Int32Array; last: Float32Array; T: number };
  index: number[];
}

export function pairBatch(pairs: EncodedPair[], index: number[], pad: number): PairBatch {
  const seqs = [...index.map((i) => pairs[i].chosen), ...index.map((i) => pairs[i].rejected)];
  const T = Math.max(...seqs.map((s) => s.ids.length));
  const x = new Int32Array(seqs.length * T).fill(pad);
  const last = new Float32Array(seqs.length * T);
  seqs.forEach((s, b) => {
    x.set(s.ids, b * T);
    last[b * T + s.ids.length - 1] = 1;
  });
  return { rows: padBatch(seqs, pad), full: { x, last, T }, index };
}

export function drawPairs(n: number, batchSize: number, rng: Rng): number[] {
  return Array.from({ length: batchSize }, () => rng.int(n));
}

/** Sum of log p(response tokens | prompt) per row, [R]: what DPO compares between policy and reference. */
export function sequenceLogProbs(model: GPT, b: SftBatch): tf.Tensor1D {
  const N = b.B * b.T;
  const x = tf.tensor2d(b.x, [b.B, b.T], 'int32');
  const logits = tf.reshape(model.forward(x).logits, [N, model.config.vocabSize]) as tf.Tensor2D;
  const lp = tf.mul(tokenLogProbs(logits, tf.tensor1d(b.y, 'int32')), tf.tensor1d(b.mask)); // [N]
  return tf.sum(tf.reshape(lp, [b.B, b.T]), 1) as tf.Tensor1D;
}

/** The reward model's head: a scalar from the hidden state of each row's last token, [R]. */
export const SCORE_HEAD = 'score.weight';

export function sequenceScores(model: GPT, full: PairBatch['full'], rows: number): tf.Tensor1D {
  const { T } = full;
  const C = model.config.nEmbd;
  const x = tf.tensor2d(full.x, [rows, T], 'int32');
  const h = tf.reshape(model.hidden(x).hidden, [rows * T, C]) as tf.Tensor2D;
  const s = tf.reshape(linear(h, model.param<tf.Rank.R2>(SCORE_HEAD)), [rows, T]); // a score at every position
  // Pick the last token's by a one-hot product: gather's gradient is missing on wasm.
  return tf.sum(tf.mul(s, tf.tensor2d(full.last, [rows, T])), 1) as tf.Tensor1D;
}

/** The reward model's score of whole token sequences (each ending in end-of-text), without gradients. */
export async function scoreSequences(model: GPT, seqs: number[][], pad: number, batchSize = 16): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < seqs.length; i += batchSize) {
    const part = seqs.slice(i, i + batchSize);
    const T = Math.max(...part.map((s) => s.length));
    const x = new Int32Array(part.length * T).fill(pad);
    const last = new Float32Array(part.length * T);
    part.forEach((s, b) => {
      x.set(s, b * T);
      last[b * T + s.length - 1] = 1;
    });
    const [scores] = await readAndDispose([tf.tidy(() => sequenceScores(model, { x, last, T }, part.length))]);
    out.push(...scores);
  }
  return out;
}
