import * as tf from '@tensorflow/tfjs-core';
import { wasmDecodeAvailable } from '../kernels/decodeModule';
import { resolveConfig, ResolvedGPTConfig } from '../model/config';
import type { GPT } from '../model/gpt';
import { JsDecodeEngine } from './jsDecoder';
import { WasmDecodeEngine } from './wasmDecoder';

/** What runs a decode step: tokens with their rows and positions in, logits after some of them out. */
export interface DecodeEngine {
  /** Appends each token at (row, position) to the cache; the logits after the tokens `lastOf`: [lastOf × V]. */
  run(ids: number[], rowOf: number[], posOf: number[], lastOf: number[]): Float32Array;
  /** False once the model's weights were replaced (an optimizer step, setWeights): the cache is stale. */
  current(): boolean;
  dispose(): void;
}

/**
 * KV-cached decoding for many rows at once, built for CPU backends (wasm, cpu), where the cost of a decode step
 * through gpt.ts's forward is the number of tfjs ops (~250 kernels for a 4-layer model), not arithmetic. On wasm
 * a whole step is one call into GPT Lab's decoder (decode.c: weights, caches and scratch in its own memory);
 * elsewhere, and with GPTLAB_KERNELS=reference, the JS engine (jsDecoder.ts) does it with a few tfjs products.
 *
 * Rows are independent sequences with their own lengths: a step appends any number of tokens to any rows (a
 * prompt and a single token alike) and returns the logits after each row's last new token. The arithmetic is
 * gpt.ts's forward pass (the same recipe options), so its logits equal a full recompute within float rounding.
 */
export class CachedDecoder {
  readonly rows: number;
  /** Positions in each row's cache. */
  readonly lengths: Int32Array;
  /** Which engine runs the steps. */
  readonly engine: 'wasm' | 'js';
  private readonly c: ResolvedGPTConfig;
  private readonly impl: DecodeEngine;

  constructor(model: GPT, rows: number) {
    this.c = resolveConfig(model.config);
    this.rows = rows;
    this.lengths = new Int32Array(rows);
    this.engine = wasmDecodeAvailable(tf.getBackend()) ? 'wasm' : 'js';
    this.impl =
      this.engine === 'wasm' ? new WasmDecodeEngine(model, this.c, rows) : new JsDecodeEngine(model, this.c, rows);
  }

  /** Whether this backend runs the JS parts where the data is (on a GPU, every step would round-trip). */
  static suits(): boolean {
    const b = tf.getBackend();
    return b === 'wasm' || b === 'cpu';
  }

  /** False once the model's weights were replaced (an optimizer step, setWeights): the cache is stale. */
  current(): boolean {
    return this.impl.current();
  }

  /** Empties a row's cache. */
  resetRow(row: number): void {
    this.lengths[row] = 0;
  }

  /**
   * Appends `tokens` to row `row` of each item (an item's row appears once) and returns the next-token logits
   * after each item's last token: [items.length × vocabSize].
   */
  step(items: { row: number; tokens: number[] }[]): Float32Array {
    const { contextLength: ctx, vocabSize: V } = this.c;
    const ids: number[] = [];
    const rowOf: number[] = [];
    const posOf: number[] = [];
    const lastOf: number[] = [];
    for (const it of items) {
      if (!it.tokens.length) throw new Error('a decode step needs at least one token per row');
      if (!(it.row >= 0 && it.row < this.rows)) throw new Error(`no row ${it.row}`);
      const p0 = this.lengths[it.row];
      if (p0 + it.tokens.length > ctx) throw new Error(`sequence of ${p0 + it.tokens.length} exceeds ${ctx}`);
      it.tokens.forEach((t, j) => {
        if (!(t >= 0 && t < V)) throw new Error(`token ${t} is outside the vocabulary`);
        ids.push(t);
        rowOf.push(it.row);
        posOf.push(p0 + j);
      });
      lastOf.push(ids.length - 1);
    }
    const logits = this.impl.run(ids, rowOf, posOf, lastOf);
    for (const it of items) this.lengths[it.row] += it.tokens.length;
    if (logits.length !== items.length * V) throw new Error('unexpected logits size');
    return logits;
  }

  dispose(): void {
    this.impl.dispose();
  }
}
