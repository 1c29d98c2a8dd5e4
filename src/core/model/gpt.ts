import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import { GPTConfig, validateConfig } from './config';
import {
  batchMatMulPlain,
  causalMask,
  crossEntropy,
  embedding,
  gelu,
  layerNorm,
  linear,
  maskedCrossEntropy,
  sinusoids,
  tokenLogProbs,
} from './ops';

/** Keys and values of earlier positions, per layer: [1, H, Tc, hs] each. Batch 1 (generation). */
export interface KVCache {
  layers: { k: tf.Tensor4D; v: tf.Tensor4D }[];
  /** Positions already in the cache. */
  length: number;
}

/** What a traced forward pass collects for the inspector panels (tensors the caller disposes). */
export interface ForwardTrace {
  /** Per layer, softmaxed attention weights [B, H, T, Tk]. */
  attention: tf.Tensor4D[];
  /** Per layer, the residual stream after the block [B, T, C]. */
  hidden: tf.Tensor3D[];
}

export interface ForwardOptions {
  /** Extend this cache with the new positions (batch 1); the updated cache is returned in `cache` of the result. */
  cache?: KVCache;
  /** Collect attention weights and hidden states. */
  trace?: boolean;
  /** Only compute logits for the last position (generation). */
  lastOnly?: boolean;
}

export interface ForwardResult {
  /** [B, T, V], or [B, 1, V] with lastOnly. */
  logits: tf.Tensor3D;
  cache?: KVCache;
  trace?: ForwardTrace;
}

export interface HiddenResult {
  /** The residual stream after the final LayerNorm: [B, T, C], or [B, 1, C] with lastOnly. */
  hidden: tf.Tensor3D;
  cache?: KVCache;
  trace?: ForwardTrace;
}

/**
 * A parameter beyond GPT-2's own: a head on the hidden states (a reward model's `score`, PPO's `v_head`).
 * Heads are listed in config.json, so they save, load and resume like the rest.
 */
export interface HeadSpec {
  name: string;
  shape: number[];
}

export interface GPTOptions {
  heads?: HeadSpec[];
  /** false for a frozen model (a reference): its variables never get gradients, so never reach an optimizer. */
  trainable?: boolean;
}

/** Hugging Face GPT-2 names of every parameter, in a stable order. */
export function parameterNames(c: GPTConfig): string[] {
  const names = ['wte.weight'];
  if (c.positionEncoding === 'learned') names.push('wpe.weight');
  for (let i = 0; i < c.nLayer; i++) {
    for (const p of ['ln_1', 'attn.c_attn', 'attn.c_proj', 'ln_2', 'mlp.c_fc', 'mlp.c_proj']) {
      names.push(`h.${i}.${p}.weight`, `h.${i}.${p}.bias`);
    }
  }
  names.push('ln_f.weight', 'ln_f.bias');
  return names;
}

/** Shapes in GPT-2's layout: linear weights are [in, out] (Conv1D), so y = x·W + b. */
export function parameterShape(c: GPTConfig, name: string): number[] {
  const C = c.nEmbd;
  if (name === 'wte.weight') return [c.vocabSize, C];
  if (name === 'wpe.weight') return [c.contextLength, C];
  const m = /^(?:h\.\d+\.)?(ln_1|ln_2|ln_f|attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.(weight|bias)$/.exec(name);
  if (!m) throw new Error(`unknown parameter ${name}`);
  const [, part, kind] = m;
  const io: Record<string, [number, number]> = {
    'attn.c_attn': [C, 3 * C],
    'attn.c_proj': [C, C],
    'mlp.c_fc': [C, 4 * C],
    'mlp.c_proj': [4 * C, C],
  };
  if (part.startsWith('ln')) return [C];
  const [i, o] = io[part];
  return kind === 'weight' ? [i, o] : [o];
}

/** GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/√(2L), LayerNorm at identity. */
export function initialWeights(c: GPTConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const name of parameterNames(c)) {
    const shape = parameterShape(c, name);
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    if (/ln_.*\.weight$/.test(name)) a.fill(1);
    else if (!name.endsWith('.bias')) {
      const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * c.nLayer) : 0.02;
      for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
    }
    out.set(name, a);
  }
  return out;
}

let modelCounter = 0; // tfjs variable names must be unique per process

/** A decoder-only transformer (GPT-2 architecture: pre-LayerNorm blocks, GELU MLP, tied head). */
export class GPT {
  readonly config: GPTConfig;
  readonly params = new Map<string, tf.Variable>();
  readonly heads: HeadSpec[] = [];
  readonly trainable: boolean;
  private readonly id: number;
  private readonly mask: tf.Tensor2D; // [ctx, ctx] additive causal mask
  private readonly fixedPositions?: tf.Tensor2D; // [ctx, C] sinusoids

  constructor(config: GPTConfig, weights: Map<string, Float32Array>, opts: GPTOptions = {}) {
    this.config = validateConfig(config);
    this.id = ++modelCounter;
    this.trainable = opts.trainable ?? true;
    for (const name of parameterNames(config)) this.addParameter(name, parameterShape(config, name), weights.get(name));
    for (const h of opts.heads ?? []) this.addHead(h, weights.get(h.name));
    this.mask = causalMask(config.contextLength);
    if (config.positionEncoding === 'sinusoidal') {
      this.fixedPositions = tf.tensor2d(sinusoids(config.contextLength, config.nEmbd), [
        config.contextLength,
        config.nEmbd,
      ]);
    }
  }

  static create(config: GPTConfig, seed = 0): GPT {
    return new GPT(config, initialWeights(config, seed));
  }

  /** Adds a head (zeros unless `data` is given). Its name must not be one of GPT-2's. */
  addHead(spec: HeadSpec, data?: Float32Array): void {
    if (this.params.has(spec.name)) throw new Error(`parameter ${spec.name} already exists`);
    this.addParameter(spec.name, spec.shape, data ?? new Float32Array(spec.shape.reduce((x, y) => x * y, 1)));
    this.heads.push({ name: spec.name, shape: [...spec.shape] });
  }

  private addParameter(name: string, shape: number[], data: Float32Array | undefined): void {
    if (!data || data.length !== shape.reduce((x, y) => x * y, 1)) {
      throw new Error(`weights for ${name} are missing or not of shape [${shape}]`);
    }
    this.params.set(
      name,
      tf.tidy(() => tf.variable(tf.tensor(data, shape), this.trainable, `gpt${this.id}/${name}`)),
    );
  }

  /** The parameter `name` as a tensor (heads included). */
  param<R extends tf.Rank>(name: string): tf.Tensor<R> {
    return this.p<R>(name);
  }

  private p<R extends tf.Rank>(name: string): tf.Tensor<R> {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v as unknown as tf.Tensor<R>;
  }

  /** Logits for token ids [B, T] (int32) starting at position `cache.length` (or 0). Call inside tf.tidy. */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const { hidden, cache, trace } = this.hidden(ids, opts);
    const [B, T, C] = hidden.shape;
    const logits = this.logits(tf.reshape(hidden, [B * T, C]) as tf.Tensor2D); // [B·T, V]
    return { logits: tf.reshape(logits, [B, T, this.config.vocabSize]), cache, trace };
  }

  /** The residual stream after the final LayerNorm, [B, T, C]: what the LM head and any other head read. */
  hidden(ids: tf.Tensor2D, opts: ForwardOptions = {}): HiddenResult {
    const { nEmbd: C, nLayer, contextLength } = this.config;
    const [B, T] = ids.shape;
    const pos0 = opts.cache?.length ?? 0;
    if (pos0 + T > contextLength) throw new Error(`sequence of ${pos0 + T} exceeds the context of ${contextLength}`);
    if (opts.cache && B !== 1) throw new Error('a KV cache needs batch 1');

    const tok = embedding(this.p('wte.weight'), tf.reshape(ids, [B * T]) as tf.Tensor1D); // [B·T, C]
    const posTable = this.fixedPositions ?? this.p<tf.Rank.R2>('wpe.weight');
    const pos = tf.slice(posTable, [pos0, 0], [T, C]); // [T, C]
    let x = tf.reshape(tf.add(tf.reshape(tok, [B, T, C]), pos), [B * T, C]) as tf.Tensor2D; // [B·T, C]

    const trace: ForwardTrace | undefined = opts.trace ? { attention: [], hidden: [] } : undefined;
    const newCache: KVCache | undefined = opts.cache ? { layers: [], length: pos0 + T } : undefined;
    for (let l = 0; l < nLayer; l++) {
      const h = `h.${l}.`;
      const a = layerNorm(x, this.p(h + 'ln_1.weight'), this.p(h + 'ln_1.bias'));
      const qkv = linear(a, this.p(h + 'attn.c_attn.weight'), this.p(h + 'attn.c_attn.bias')); // [B·T, 3C]
      const y = this.attention(qkv, B, T, pos0, opts.cache?.layers[l], newCache, trace); // [B·T, C]
      x = tf.add(x, linear(y, this.p(h + 'attn.c_proj.weight'), this.p(h + 'attn.c_proj.bias')));
      const m = layerNorm(x, this.p(h + 'ln_2.weight'), this.p(h + 'ln_2.bias'));
      const f = gelu(linear(m, this.p(h + 'mlp.c_fc.weight'), this.p(h + 'mlp.c_fc.bias'))) as tf.Tensor2D; // [B·T, 4C]
      x = tf.add(x, linear(f, this.p(h + 'mlp.c_proj.weight'), this.p(h + 'mlp.c_proj.bias')));
      trace?.hidden.push(tf.reshape(x, [B, T, C]));
    }

    const xf = tf.reshape(layerNorm(x, this.p('ln_f.weight'), this.p('ln_f.bias')), [B, T, C]) as tf.Tensor3D;
    const hidden = opts.lastOnly ? (tf.slice(xf, [0, T - 1, 0], [B, 1, C]) as tf.Tensor3D) : xf;
    return { hidden, cache: newCache, trace };
  }

  /** Next-token logits [N, V] of hidden states [N, C]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    return this.head(hidden);
  }

  /**
   * Mean next-token cross-entropy of inputs [B, T] against targets [B, T] (nats per token); with a mask [B, T],
   * the mean over the positions where it is 1 (the others carry no loss and no gradient).
   */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D, mask?: tf.Tensor2D): tf.Scalar {
    const [B, T] = ids.shape;
    const logits = tf.reshape(this.forward(ids).logits, [B * T, this.config.vocabSize]) as tf.Tensor2D;
    const y = tf.reshape(targets, [B * T]) as tf.Tensor1D;
    return mask ? maskedCrossEntropy(logits, y, tf.reshape(mask, [B * T])) : crossEntropy(logits, y);
  }

  /** log p(target | prefix) of every position, [B, T]: masked, summed or ratioed by SFT, DPO and PPO. */
  tokenLogProbs(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = ids.shape;
    const logits = tf.reshape(this.forward(ids).logits, [B * T, this.config.vocabSize]) as tf.Tensor2D;
    return tf.reshape(tokenLogProbs(logits, tf.reshape(targets, [B * T])), [B, T]);
  }

  /** The output head, tied to the token embedding: x·wteᵀ. */
  head(x: tf.Tensor2D): tf.Tensor2D {
    return linear(x, tf.transpose(this.p<tf.Rank.R2>('wte.weight')));
  }

  /** The final LayerNorm, for the logit lens. */
  finalNorm(x: tf.Tensor2D): tf.Tensor2D {
    return layerNorm(x, this.p('ln_f.weight'), this.p('ln_f.bias'));
  }

  private attention(
    qkv: tf.Tensor2D,
    B: number,
    T: number,
    pos0: number,
    past: { k: tf.Tensor4D; v: tf.Tensor4D } | undefined,
    newCache: KVCache | undefined,
    trace: ForwardTrace | undefined,
  ): tf.Tensor2D {
    const { nEmbd: C, nHead: H } = this.config;
    const hs = C / H;
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, H, hs]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, hs]
    const [q0, k0, v0] = tf.split(qkv, 3, 1);
    const q = heads(q0);
    let k = heads(k0);
    let v = heads(v0);
    if (past) {
      k = tf.concat([past.k, k], 2); // [1, H, Tc+T, hs]
      v = tf.concat([past.v, v], 2);
    }
    if (newCache) newCache.layers.push({ k: tf.keep(k), v: tf.keep(v) });
    const Tk = k.shape[2];

    const q3 = tf.reshape(q, [B * H, T, hs]) as tf.Tensor3D;
    const kT3 = tf.reshape(tf.transpose(k, [0, 1, 3, 2]), [B * H, hs, Tk]) as tf.Tensor3D;
    const v3 = tf.reshape(v, [B * H, Tk, hs]) as tf.Tensor3D;
    const scores = tf.add(
      tf.mul(batchMatMulPlain(q3, kT3), 1 / Math.sqrt(hs)),
      tf.slice(this.mask, [pos0, 0], [T, Tk]),
    ); // [B·H, T, Tk]
    const att = tf.softmax(scores) as tf.Tensor3D;
    trace?.attention.push(tf.reshape(att, [B, H, T, Tk]));
    const y = batchMatMulPlain(att, v3); // [B·H, T, hs]
    return tf.reshape(tf.transpose(tf.reshape(y, [B, H, T, hs]), [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D;
  }

  /** Copies of every weight, by Hugging Face name. */
  weights(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.params) out.set(name, v.dataSync() as Float32Array);
    return out;
  }

  setWeights(weights: Map<string, Float32Array>): void {
    for (const [name, v] of this.params) {
      const data = weights.get(name);
      if (!data || data.length !== v.size) throw new Error(`weights for ${name} are missing or of the wrong size`);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
    }
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.mask.dispose();
    this.fixedPositions?.dispose();
  }
}

export function disposeCache(cache: KVCache | undefined): void {
  if (!cache) return;
  for (const l of cache.layers) {
    l.k.dispose();
    l.v.dispose();
  }
}
