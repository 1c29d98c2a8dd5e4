import * as tf from '@tensorflow/tfjs-core';
import { disposeCache, GPT, KVCache } from '../model/gpt';
import { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';
import { CachedDecoder } from './decoder';
import { pickToken, SamplingParams, softmax, TokenProb, topTokens } from './distribution';

export interface GenerateOptions extends SamplingParams {
  /** Most new tokens. */
  maxTokens: number;
  seed?: number;
  /** Stop when the generated text contains one of these (the stop text is not returned). */
  stop?: string[];
  /** Stop at end-of-text (default true). */
  stopAtEndOfText?: boolean;
  /** Also stop at these tokens (not returned), e.g. the FIM specials after a generated middle. */
  stopTokens?: number[];
  /** The first token must be one of these (token healing). */
  firstTokens?: Set<number>;
  /** Never generate these (e.g. the FIM markers, in plain left-to-right text). */
  suppressTokens?: number[];
  /** Also return the k most likely next tokens at each step (the generation stepper). */
  topProbs?: number;
  /** Recompute the whole window each step instead of using the KV cache (for tests and benchmarks). */
  noCache?: boolean;
  /** Polled between tokens; true ends generation ('cancelled'). */
  shouldStop?: () => boolean;
  /**
   * Called with each new token as it is generated (streaming output), after the stop checks: the token that
   * completes a stop sequence is not passed, so text streamed while holding back the longest stop minus one
   * character is always a prefix of the result.
   */
  onToken?: (token: number) => void;
  /** Reuse this generator's KV cache (the caller disposes it); otherwise a fresh one is made and disposed. */
  generator?: Generator;
}

export interface GenerationStep {
  token: number;
  /** Probability of the chosen token under the temperature-shaped distribution. */
  prob: number;
  top?: TokenProb[];
}

export interface GenerateResult {
  tokens: number[];
  text: string;
  steps: GenerationStep[];
  stopReason: 'limit' | 'stop' | 'end-of-text' | 'cancelled';
}

/**
 * Autoregressive generation with a KV cache: the prompt is run once, then each new token costs one position.
 * When the cache reaches the context length, the window slides: the last half of the context is re-run.
 * On CPU backends the cache is a CachedDecoder's (few tfjs ops a token); elsewhere gpt.ts's tensor cache.
 */
export class Generator {
  private cache: KVCache | undefined;
  private decoder: CachedDecoder | undefined;
  /** The cache holds tokens[offset, offset + window.length) of the sequence. */
  private window: number[] = [];
  private offset = 0;

  constructor(private readonly model: GPT) {}

  /** Logits [V] for the next token after `tokens` (the whole sequence so far). */
  next(tokens: number[], noCache = false): Float32Array {
    const logits = this.step(tokens, noCache);
    if (logits instanceof Float32Array) return logits;
    const out = logits.dataSync() as Float32Array;
    logits.dispose();
    return out;
  }

  /** next, reading the logits with `await data()` where they are a tensor (webgpu in Node reads no other way). */
  async nextAsync(tokens: number[], noCache = false): Promise<Float32Array> {
    const logits = this.step(tokens, noCache);
    if (logits instanceof Float32Array) return logits;
    const out = (await logits.data()) as Float32Array;
    logits.dispose();
    return out;
  }

  /** The next logits: read already (CPU backends' decoder), or as a tensor for the caller to read. */
  private step(tokens: number[], noCache: boolean): Float32Array | tf.Tensor {
    const ctx = this.model.config.contextLength;
    if (noCache) return this.run(tokens.slice(-ctx), false);
    const fast = CachedDecoder.suits();
    if (fast && this.decoder && !this.decoder.current()) this.reset(true); // the weights changed
    const end = this.offset + this.window.length;
    const canExtend =
      (fast ? this.window.length > 0 : this.cache !== undefined) &&
      tokens.length > end &&
      tokens.length - this.offset <= ctx &&
      this.window.every((t, i) => tokens[this.offset + i] === t);
    if (canExtend) {
      const fresh = tokens.slice(end);
      const logits = fast ? this.decode(fresh) : this.run(fresh, true);
      this.window.push(...fresh);
      return logits;
    }
    this.reset();
    // Past the context, keep the last half so the next tokens can reuse the cache for a while.
    this.offset = tokens.length > ctx ? tokens.length - Math.max(1, Math.floor(ctx / 2)) : 0;
    const keep = tokens.slice(this.offset);
    if (!fast) this.cache = { layers: [], length: 0 };
    const logits = fast ? this.decode(keep) : this.run(keep, true);
    this.window = keep;
    return logits;
  }

  private decode(ids: number[]): Float32Array {
    this.decoder ??= new CachedDecoder(this.model, 1);
    return this.decoder.step([{ row: 0, tokens: ids }]);
  }

  private run(ids: number[], useCache: boolean): tf.Tensor {
    let updated: KVCache | undefined;
    const logits = tf.tidy(() => {
      const r = this.model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), {
        cache: useCache ? this.cache : undefined,
        lastOnly: true,
      });
      updated = r.cache;
      return tf.reshape(r.logits, [-1]);
    });
    if (useCache) {
      disposeCache(this.cache);
      this.cache = updated;
    }
    return logits;
  }

  /** Forgets the cached sequence; `weights` also drops what was read of the model's weights. */
  reset(weights = false): void {
    disposeCache(this.cache);
    this.cache = undefined;
    this.decoder?.resetRow(0);
    if (weights) {
      this.decoder?.dispose();
      this.decoder = undefined;
    }
    this.window = [];
    this.offset = 0;
  }

  dispose(): void {
    this.reset(true);
  }
}

/** What the generation loop asks its driver for: the generator's logits after `tokens`. */
interface LogitsRequest {
  gen: Generator;
  tokens: number[];
}
/**
 * The generation loop, one token per iteration: `generate` runs it through, `generateAsync` yields to the event
 * loop between tokens so a cancel message can arrive (the worker's completions) and reads logits asynchronously.
 */
function* generationLoop(
  model: GPT,
  tokenizer: Tokenizer,
  prompt: number[],
  opts: GenerateOptions,
): Iterator<LogitsRequest | undefined, GenerateResult, Float32Array | undefined> {
  if (prompt.length === 0) prompt = [tokenizer.specials.endOfText];
  const rng = new Rng(opts.seed ?? 0);
  const gen = opts.generator ?? new Generator(model);
  const tokens = prompt.slice();
  const out: number[] = [];
  const steps: GenerationStep[] = [];
  const result = (stopReason: GenerateResult['stopReason'], text = tokenizer.decodeText(out)): GenerateResult => ({
    tokens: out,
    text,
    steps,
    stopReason,
  });
  try {
    for (let i = 0; i < opts.maxTokens; i++) {
      if (opts.shouldStop?.()) return result('cancelled');
      const logits = (yield { gen, tokens })!; // the driver reads them, at once or with await
      for (const t of opts.suppressTokens ?? []) logits[t] = -Infinity;
      if (i === 0 && opts.firstTokens?.size)
        for (let t = 0; t < logits.length; t++) if (!opts.firstTokens.has(t)) logits[t] = -Infinity;
      const token = pickToken(logits, opts, rng);
      const probs = softmax(logits, opts.temperature);
      steps.push({ token, prob: probs[token], top: opts.topProbs ? topTokens(probs, opts.topProbs) : undefined });
      if (token === tokenizer.specials.endOfText && opts.stopAtEndOfText !== false) return result('end-of-text');
      if (opts.stopTokens?.includes(token)) return result('stop');
      tokens.push(token);
      out.push(token);
      if (opts.stop?.length) {
        const text = tokenizer.decodeText(out);
        const at = firstStop(text, opts.stop);
        if (at >= 0) return result('stop', text.slice(0, at));
      }
      opts.onToken?.(token);
      yield; // between tokens
    }
    return result('limit');
  } finally {
    if (!opts.generator) gen.dispose();
  }
}

export function generate(model: GPT, tokenizer: Tokenizer, prompt: number[], opts: GenerateOptions): GenerateResult {
  const loop = generationLoop(model, tokenizer, prompt, opts);
  let r = loop.next();
  while (!r.done) {
    const ask = r.value;
    try {
      r = loop.next(ask && ask.gen.next(ask.tokens, opts.noCache));
    } catch (err) {
      r = loop.throw!(err); // the loop's own clean-up runs, and the error goes on
    }
  }
  return r.value;
}

/** generate, yielding to the event loop between tokens and reading logits with `await data()` (webgpu reads so). */
export async function generateAsync(
  model: GPT,
  tokenizer: Tokenizer,
  prompt: number[],
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const loop = generationLoop(model, tokenizer, prompt, opts);
  let r = loop.next();
  while (!r.done) {
    const ask = r.value;
    try {
      if (!ask) await new Promise((resolve) => setImmediate(resolve));
      r = loop.next(ask && (await ask.gen.nextAsync(ask.tokens, opts.noCache)));
    } catch (err) {
      r = loop.throw!(err);
    }
  }
  return r.value;
}

function firstStop(text: string, stops: string[]): number {
  let best = -1;
  for (const s of stops) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}
