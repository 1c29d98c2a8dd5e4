import * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../core/model/gpt';
import { softmax, topTokens } from '../core/sample';
import type { Tokenizer } from '../core/tokenizer';
import type { AttentionData, StepData, TokenStrip } from '../protocol/inspect';

/** Tokens of `text` with their UTF-16 spans, keeping the last `max` (the model's context). */
export function tokenStrip(
  tok: Tokenizer,
  text: string,
  max: number,
): { strip: TokenStrip; startOffset: number; total: number } {
  const bytes = new TextEncoder().encode(text);
  // UTF-8 byte offset → UTF-16 offset, so spans can become editor ranges.
  const utf16At = new Int32Array(bytes.length + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) utf16At[b + k] = i;
    b += n;
    if (cp >= 0x10000) i++;
  }
  utf16At[bytes.length] = text.length;
  const all = tok.encode(bytes);
  const offsets: [number, number][] = [];
  let pos = 0;
  for (const id of all) {
    const len = tok.tokenBytes(id).length;
    offsets.push([utf16At[pos], utf16At[pos + len]]);
    pos += len;
  }
  const from = Math.max(0, all.length - max);
  const ids = all.slice(from);
  return {
    strip: { ids, display: ids.map((id) => tok.tokenDisplay(id)), offsets: offsets.slice(from) },
    startOffset: from < offsets.length ? offsets[from][0] : text.length,
    total: all.length,
  };
}

/**
 * Every layer's and head's attention over the text, as one Float32Array [L, H, T, T]. Read with `await data()`:
 * webgpu in Node reads no other way.
 */
export async function attentionOf(model: GPT, tok: Tokenizer, text: string): Promise<AttentionData> {
  const { strip, total } = tokenStrip(tok, text, model.config.contextLength);
  const { nLayer: L, nHead: H, contextLength } = model.config;
  const T = strip.ids.length;
  const dims = { tokens: strip, totalTokens: total, contextLength, layers: L, heads: H };
  if (T === 0) return { ...dims, weights: new Float32Array(0) };
  const attention = tf.tidy(() => {
    const { trace } = model.forward(tf.tensor2d([strip.ids], [1, T], 'int32'), { trace: true, lastOnly: true });
    return tf.concat(trace!.attention.map((a) => tf.reshape(a, [-1]))); // each [1, H, T, T], layer by layer
  });
  try {
    return { ...dims, weights: (await attention.data()) as Float32Array };
  } finally {
    attention.dispose();
  }
}

/** The next-token distribution after `ids`, plus what each layer would predict (the logit lens). */
export async function stepOf(model: GPT, tok: Tokenizer, ids: number[]): Promise<StepData> {
  const ctx = model.config.contextLength;
  const kept = ids.length ? ids.slice(-ctx) : [tok.specials.endOfText];
  const T = kept.length;
  const { nEmbd: C, vocabSize: V } = model.config;
  // Row 0: the logits; row 1 + l: layer l's logit lens. One asynchronous read for all (webgpu reads no other way).
  const rows = tf.tidy(() => {
    const r = model.forward(tf.tensor2d([kept], [1, T], 'int32'), { trace: true, lastOnly: true });
    const lens = r.trace!.hidden.map((h) => {
      const last = tf.reshape(tf.slice(h, [0, T - 1, 0], [1, 1, C]), [1, C]) as tf.Tensor2D;
      return tf.reshape(model.head(model.finalNorm(last)), [1, V]);
    });
    return tf.concat([tf.reshape(r.logits, [1, V]), ...lens]);
  });
  let all: Float32Array;
  try {
    all = (await rows.data()) as Float32Array;
  } finally {
    rows.dispose();
  }
  const logits = all.slice(0, V);
  const lens: StepData['lens'] = [];
  for (let layer = 0; (layer + 2) * V <= all.length; layer++) {
    const p = softmax(all.subarray((layer + 1) * V, (layer + 2) * V));
    lens.push({ layer, top: topTokens(p, 3).map((t) => ({ display: tok.tokenDisplay(t.token), prob: t.prob })) });
  }
  const candidates = topTokens(logits, 50).map((t) => ({
    token: t.token,
    display: tok.tokenDisplay(t.token),
    logit: logits[t.token],
  }));
  const display = kept.map((id) => tok.tokenDisplay(id));
  return { tokens: { ids: kept, display, offsets: [] }, logits, candidates, lens, contextLength: ctx };
}
