import * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../model/gpt';
import { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';
import { CachedDecoder } from './decoder';
import { pickToken, SamplingParams } from './distribution';

export interface BatchGenerateOptions extends SamplingParams {
  maxTokens: number;
  /** One seed per row (default: row i gets seed + i), so a row draws what batch-1 generation with its seed would. */
  seeds?: number[];
  seed?: number;
  /** Never generate these (e.g. the FIM markers). */
  suppressTokens?: number[];
  /** End-of-text is not drawn before a row has this many tokens (Hugging Face's min_new_tokens). */
  minTokens?: number;
}

export interface BatchRow {
  /** The generated tokens, without the end-of-text that ended the row. */
  tokens: number[];
  text: string;
  stopReason: 'limit' | 'end-of-text';
}

/**
 * Generation for many prompts at once (rankings' candidates, PPO's rollouts). On CPU backends every unfinished
 * row has its own KV cache in one CachedDecoder: the first step runs each prompt, later steps one token a row,
 * all rows in the same matrix products; a row slides its window as batch-1 generation does (the last half of
 * the context re-run), so a row gets what generating it alone gives. Elsewhere each step recomputes.
 */
export function generateBatch(model: GPT, tok: Tokenizer, prompts: number[][], opts: BatchGenerateOptions): BatchRow[] {
  const run = new BatchRun(tok, prompts, opts, model.config.vocabSize);
  const next = CachedDecoder.suits() ? cachedSteps(model, run.seqs) : recomputedSteps(model, run.seqs, run.eot);
  try {
    for (let active = run.start(); active.length;) active = run.pick(active, next.logits(active));
  } finally {
    next.dispose();
  }
  return run.rows();
}

/**
 * generateBatch reading each step's logits with `await data()`, for backends that read no other way (webgpu in
 * Node: PPO's rollouts and the win rate). On CPU backends it is generateBatch itself.
 */
export async function generateBatchAsync(
  model: GPT,
  tok: Tokenizer,
  prompts: number[][],
  opts: BatchGenerateOptions,
): Promise<BatchRow[]> {
  if (CachedDecoder.suits()) return generateBatch(model, tok, prompts, opts);
  const run = new BatchRun(tok, prompts, opts, model.config.vocabSize);
  for (let active = run.start(); active.length;) {
    const logits = recomputedLogits(model, run.seqs, active, run.eot);
    const all = (await logits.data()) as Float32Array;
    logits.dispose();
    active = run.pick(active, all);
  }
  return run.rows();
}

/** The rows of one batched generation: what each has drawn, and which are still going. */
class BatchRun {
  readonly eot: number;
  readonly seqs: number[][];
  private readonly rngs: Rng[];
  private readonly out: BatchRow[];
  private step = 0;

  constructor(
    private readonly tok: Tokenizer,
    prompts: number[][],
    private readonly opts: BatchGenerateOptions,
    private readonly V: number,
  ) {
    this.eot = tok.specials.endOfText;
    this.seqs = prompts.map((p) => (p.length ? p.slice() : [this.eot]));
    this.rngs = this.seqs.map((_, i) => new Rng(opts.seeds?.[i] ?? (opts.seed ?? 0) + i));
    this.out = this.seqs.map(() => ({ tokens: [], text: '', stopReason: 'limit' }));
  }

  /** The rows that draw first (none when no token is asked for). */
  start(): number[] {
    return this.opts.maxTokens > 0 ? this.seqs.map((_, i) => i) : [];
  }

  /** Draws a token for each active row from its logits ([active.length × V]); the rows still going after. */
  pick(active: number[], all: Float32Array): number[] {
    const { opts, V, eot } = this;
    const still: number[] = [];
    active.forEach((i, r) => {
      const row = all.slice(r * V, (r + 1) * V);
      for (const t of opts.suppressTokens ?? []) row[t] = -Infinity;
      if (this.step < (opts.minTokens ?? 0)) row[eot] = -Infinity;
      const token = pickToken(row, opts, this.rngs[i]);
      if (token === eot) {
        this.out[i].stopReason = 'end-of-text';
        return;
      }
      this.seqs[i].push(token);
      this.out[i].tokens.push(token);
      still.push(i);
    });
    this.step++;
    return this.step < opts.maxTokens ? still : [];
  }

  rows(): BatchRow[] {
    for (const row of this.out) row.text = this.tok.decodeText(row.tokens);
    return this.out;
  }
}

interface Steps {
  /** Next-token logits of each listed row's sequence so far: [rows.length × V]. */
  logits(rows: number[]): Float32Array;
  dispose(): void;
}

function cachedSteps(model: GPT, seqs: number[][]): Steps {
  const ctx = model.config.contextLength;
  const dec = new CachedDecoder(model, seqs.length);
  const offset = seqs.map(() => 0);
  return {
    logits(rows) {
      const items = rows.map((i) => {
        const seq = seqs[i];
        if (dec.lengths[i] > 0 && seq.length - offset[i] <= ctx) {
          return { row: i, tokens: seq.slice(offset[i] + dec.lengths[i]) };
        }
        dec.resetRow(i);
        offset[i] = seq.length > ctx ? seq.length - Math.max(1, Math.floor(ctx / 2)) : 0;
        return { row: i, tokens: seq.slice(offset[i]) };
      });
      return dec.step(items);
    },
    dispose: () => dec.dispose(),
  };
}

/** Without a cache: every step recomputes the active rows' windows. */
function recomputedSteps(model: GPT, seqs: number[][], pad: number): Steps {
  return {
    logits: (active) => {
      const logits = recomputedLogits(model, seqs, active, pad);
      const all = logits.dataSync() as Float32Array;
      logits.dispose();
      return all;
    },
    dispose: () => undefined,
  };
}

/** Recomputed windows are padded to a multiple of this many positions. */
const PAD_TO = 16;

/** The active rows right-padded (past the longest), each read at its own last position: [active.length, V]. */
function recomputedLogits(model: GPT, seqs: number[][], active: number[], pad: number): tf.Tensor2D {
  const ctx = model.config.contextLength;
  const windows = active.map((i) => seqs[i].slice(-ctx));
  // Padded up to a multiple of PAD_TO (causal: positions after a row's last never change it), so a GPU backend
  // meets a few shapes, not one a step: each new shape costs it new buffers (pooled by size) and kernels.
  const T = Math.min(ctx, Math.ceil(Math.max(...windows.map((w) => w.length)) / PAD_TO) * PAD_TO);
  const x = new Int32Array(active.length * T).fill(pad);
  const lastIndex = new Int32Array(active.length);
  windows.forEach((w, r) => {
    x.set(w, r * T);
    lastIndex[r] = r * T + w.length - 1;
  });
  return tf.tidy(() => {
    const h = model.hidden(tf.tensor2d(x, [active.length, T], 'int32')).hidden; // [R, T, C]
    const last = tf.gather(tf.reshape(h, [active.length * T, model.config.nEmbd]), tf.tensor1d(lastIndex, 'int32'));
    return model.logits(last as tf.Tensor2D); // [R, V]
  });
}
