import * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../model/gpt';
import { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';
import { pickToken, SamplingParams } from './distribution';

export interface BatchGenerateOptions extends SamplingParams {
  maxTokens: number;
  /** One seed per row (default: row i gets seed + i), so a row draws what batch-1 generation with its seed would. */
  seeds?: number[];
  seed?: number;
  /** Never generate these (e.g. the FIM markers). */
  suppressTokens?: number[];
}

export interface BatchRow {
  /** The generated tokens, without the end-of-text that ended the row. */
  tokens: number[];
  text: string;
  stopReason: 'limit' | 'end-of-text';
}

/**
 * Generation for many prompts at once (PPO's rollouts): each step runs every unfinished row, right-padded to the
 * longest, and reads each row's logits at its own last position — so a row gets exactly what generating it
 * alone gives. The window is the last `contextLength` tokens of each row.
 */
export function generateBatch(model: GPT, tok: Tokenizer, prompts: number[][], opts: BatchGenerateOptions): BatchRow[] {
  const ctx = model.config.contextLength;
  const eot = tok.specials.endOfText;
  const seqs = prompts.map((p) => (p.length ? p.slice() : [eot]));
  const rngs = seqs.map((_, i) => new Rng(opts.seeds?.[i] ?? (opts.seed ?? 0) + i));
  const out: BatchRow[] = seqs.map(() => ({ tokens: [], text: '', stopReason: 'limit' }));
  let active = seqs.map((_, i) => i);
  for (let step = 0; step < opts.maxTokens && active.length; step++) {
    const windows = active.map((i) => seqs[i].slice(-ctx));
    const T = Math.max(...windows.map((w) => w.length));
    const x = new Int32Array(active.length * T).fill(eot);
    const lastIndex = new Int32Array(active.length);
    windows.forEach((w, r) => {
      x.set(w, r * T);
      lastIndex[r] = r * T + w.length - 1;
    });
    const V = model.config.vocabSize;
    const logits = tf.tidy(() => {
      const h = model.hidden(tf.tensor2d(x, [active.length, T], 'int32')).hidden; // [R, T, C]
      const last = tf.gather(tf.reshape(h, [active.length * T, model.config.nEmbd]), tf.tensor1d(lastIndex, 'int32'));
      return model.logits(last as tf.Tensor2D); // [R, V]
    });
    const all = logits.dataSync() as Float32Array;
    logits.dispose();
    const still: number[] = [];
    active.forEach((i, r) => {
      const row = all.slice(r * V, (r + 1) * V);
      for (const t of opts.suppressTokens ?? []) row[t] = -Infinity;
      const token = pickToken(row, opts, rngs[i]);
      if (token === eot) {
        out[i].stopReason = 'end-of-text';
        return;
      }
      seqs[i].push(token);
      out[i].tokens.push(token);
      still.push(i);
    });
    active = still;
  }
  for (const row of out) row.text = tok.decodeText(row.tokens);
  return out;
}
