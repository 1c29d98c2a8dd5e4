import * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../model/gpt';
import { loadModel } from '../model/persist';
import type { Tokenizer } from '../tokenizer';

/*
 * Held-out bits per byte as a compressor (or the completion provider, which always feeds the last context's worth
 * of tokens) would meet it: every held-out token, predicted from up to a full context. The training curve's
 * figure (validationBatches) is a sample of windows that each start from nothing, so its average token sees
 * only half a context; this is the final figure to compare with xz.
 */

/** The held-out files as one stream: end-of-text first and after every file, as in training. */
export interface HeldOutStream {
  tokens: Int32Array;
  /** The files' bytes (end-of-text carries none). */
  bytes: number;
  /** Bytes of each token of `tokens` (0 for end-of-text): a capped measure divides by its scored tokens' bytes. */
  tokenBytes: Uint16Array;
}

/**
 * Tokenizes held-out files into one stream. The leading end-of-text is context only: the first file's first token
 * is then predicted as every other file's is, after an end-of-text. Every later token is scored, the end-of-text
 * after each file included: a compressor must code where a file ends too, while bits per byte divides by the
 * files' bytes alone, as xz's figure does.
 */
export function heldOutStream(tokenizer: Tokenizer, files: Uint8Array[]): HeldOutStream {
  const eot = tokenizer.specials.endOfText;
  const ids: number[] = [eot];
  let bytes = 0;
  for (const f of files) {
    for (const id of tokenizer.encode(f)) ids.push(id); // no spread: a file can have 100k+ tokens
    ids.push(eot);
    bytes += f.length;
  }
  const tokenBytes = Uint16Array.from(ids, (id) => (id === eot ? 0 : tokenizer.tokenBytes(id).length));
  return { tokens: Int32Array.from(ids), bytes, tokenBytes };
}

export interface HeldOutOptions {
  /** At most this many tokens scored (default 262,144): beyond, evenly spaced contiguous segments of the stream. */
  maxTokens?: number;
  /** Length of each segment when the stream is capped (default 512 tokens: many short segments sample evenly). */
  segmentTokens?: number;
  /** Tokens per forward pass (rows × context; default 2,048). */
  batchTokens?: number;
  /**
   * Bytes of each token (heldOutStream's tokenBytes). A capped measure then divides by the bytes of the tokens it
   * scored (bits and bytes per token vary together across files, so this estimate is far steadier); without it, by
   * the scored share of `bytes`.
   */
  tokenBytes?: ArrayLike<number>;
  /** Checked between forward passes: true ends the measure with `undefined`. */
  shouldStop?: () => boolean;
}

export interface HeldOutResult {
  bitsPerByte: number;
  /** Mean negative log-likelihood of the scored tokens, nats. */
  loss: number;
  /** Tokens scored, and the stream's tokens that could be (all but the first). */
  scoredTokens: number;
  totalTokens: number;
  /** Tokens of context every scored token has at least, beyond the stream's first window (L − ⌊L/2⌋ + 1). */
  minContext: number;
}

/** One forward window: inputs tokens[start, start + length), scoring the targets with indices [from, to]. */
export interface Window {
  start: number;
  from: number;
  to: number;
}

/**
 * The sliding windows that score every target index in [from, to) exactly once. Windows have the model's
 * context length L (or the stream's, if shorter) and advance by half of it: each scored target after the
 * stream's first window sees at least L − ⌊L/2⌋ + 1 earlier tokens. The last window is pulled back to end at the
 * stream's end, so its targets see more.
 */
export function slidingWindows(streamLength: number, contextLength: number, from = 1, to = streamLength): Window[] {
  const L = Math.min(contextLength, streamLength - 1);
  if (L < 1 || from >= to) return [];
  const stride = Math.max(1, Math.floor(L / 2));
  const keep = L - stride; // earlier tokens kept as context when the window slides
  const out: Window[] = [];
  for (let next = from; next < to;) {
    const start = Math.max(0, Math.min(next - 1 - keep, streamLength - 1 - L));
    const last = Math.min(to - 1, start + L);
    out.push({ start, from: next, to: last });
    next = last + 1;
  }
  return out;
}

/** Target ranges to score: the whole stream, or evenly spaced segments when it holds more than `maxTokens`. */
export function scoredRanges(streamLength: number, maxTokens: number, segmentTokens: number): [number, number][] {
  const total = streamLength - 1;
  if (total <= maxTokens) return total > 0 ? [[1, streamLength]] : [];
  const len = Math.max(1, Math.min(segmentTokens, maxTokens));
  const n = Math.max(1, Math.floor(maxTokens / len));
  const gap = n > 1 ? (total - len) / (n - 1) : 0;
  return Array.from({ length: n }, (_, i) => {
    const a = 1 + Math.round(i * gap);
    return [a, a + len] as [number, number];
  });
}

/**
 * Bits per byte of `model` on a held-out stream (heldOutStream), every token scored once by slidingWindows, over
 * `bytes`. A capped stream's figure divides its bits by the scored tokens' bytes (opts.tokenBytes). Resolves
 * `undefined` if `shouldStop` said so.
 */
export async function heldOutBitsPerByte(
  model: GPT,
  tokens: Int32Array,
  bytes: number,
  opts: HeldOutOptions = {},
): Promise<HeldOutResult | undefined> {
  const T = model.config.contextLength;
  const ranges = scoredRanges(tokens.length, opts.maxTokens ?? 262_144, opts.segmentTokens ?? 512);
  const windows = ranges.flatMap(([a, b]) => slidingWindows(tokens.length, T, a, b));
  const L = Math.min(T, tokens.length - 1);
  const rows = Math.max(1, Math.floor((opts.batchTokens ?? 2048) / Math.max(1, L)));
  let nats = 0;
  let scored = 0;
  let scoredBytes = 0;
  for (let i = 0; i < windows.length; i += rows) {
    if (opts.shouldStop?.()) return undefined;
    const batch = windows.slice(i, i + rows);
    const x = new Int32Array(batch.length * L);
    const y = new Int32Array(batch.length * L);
    batch.forEach((w, r) => {
      x.set(tokens.subarray(w.start, w.start + L), r * L);
      y.set(tokens.subarray(w.start + 1, w.start + L + 1), r * L);
    });
    const lp = tf.tidy(() =>
      model.tokenLogProbs(tf.tensor2d(x, [batch.length, L], 'int32'), tf.tensor2d(y, [batch.length, L], 'int32')),
    );
    let d: Float32Array | Int32Array | Uint8Array;
    try {
      d = await lp.data(); // async: webgpu cannot read synchronously
    } finally {
      lp.dispose();
    }
    batch.forEach((w, r) => {
      // Target index j sits at row position j − start − 1, predicted from the j − start tokens before it.
      for (let j = w.from; j <= w.to; j++) {
        nats -= d[r * L + j - w.start - 1];
        scoredBytes += opts.tokenBytes?.[j] ?? 0;
      }
      scored += w.to - w.from + 1;
    });
  }
  const total = Math.max(0, tokens.length - 1);
  const denominator = scored === total ? bytes : opts.tokenBytes ? scoredBytes : (bytes * scored) / total;
  return {
    bitsPerByte: denominator > 0 ? nats / Math.LN2 / denominator : NaN,
    loss: scored > 0 ? nats / scored : NaN,
    scoredTokens: scored,
    totalTokens: total,
    minContext: L - Math.max(1, Math.floor(L / 2)) + 1,
  };
}

/** heldOutBitsPerByte of the model saved in `modelDir` on `files` (its tokenizer's stream); disposes what it loads. */
export async function heldOutBitsPerByteOfFolder(
  modelDir: string,
  files: Uint8Array[],
  opts: HeldOutOptions = {},
): Promise<(HeldOutResult & { bytes: number }) | undefined> {
  const { model, tokenizer } = await loadModel(modelDir);
  try {
    const { tokens, bytes, tokenBytes } = heldOutStream(tokenizer, files);
    const r = await heldOutBitsPerByte(model, tokens, bytes, { tokenBytes, ...opts });
    return r && { ...r, bytes };
  } finally {
    model.dispose();
  }
}

/** What a held-out figure covers, in words: "every held-out token (74020), each predicted from at least 33 …". */
export function heldOutScope(r: HeldOutResult): string {
  const share =
    r.scoredTokens < r.totalTokens
      ? `${r.scoredTokens} of ${r.totalTokens} held-out tokens (evenly spaced segments)`
      : `every held-out token (${r.scoredTokens})`;
  return `${share}, each predicted from at least ${r.minContext} tokens of context (fewer at the start)`;
}
