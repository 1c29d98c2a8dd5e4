import * as tf from '@tensorflow/tfjs-core';
import {
  fastKernelsActive,
  fusedAttention,
  fusedCachedAttention,
  fusedEmbeddingPositions,
  fusedQkPrep,
  fusedSoftCapCrossEntropy,
  SOFTCAP_CE_MAX_VOCAB,
} from '../kernels';
import { Rng } from '../rng';
import { GPTConfig, resolveConfig, ResolvedGPTConfig, validateConfig } from './config';
import { applyDropout, DropoutSpec } from './dropout';
import {
  batchMatMulPlain,
  causalMask,
  crossEntropy,
  embedding,
  geluMlp,
  layerNorm,
  linear,
  maskedCrossEntropy,
  relu2,
  rmsNorm,
  rotary,
  rotaryTables,
  sinusoids,
  softCap,
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
  /**
   * Training only: dropout on the embeddings and on each block's attention and MLP outputs (mask 0 the
   * embeddings, 2l + 1 and 2l + 2 layer l's branches). Never with a cache.
   */
  dropout?: DropoutSpec;
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

/**
 * Names of every parameter, in a stable order: Hugging Face GPT-2's for the GPT-2 recipe. The recipe options
 * only remove names (`wpe.weight` with rotary or sinusoidal positions, every `.bias` without biases) or add
 * some (`lm_head.weight` [nEmbd, vocabSize] with an untied head, `h.N.x0_mix` [2] and `h.N.attn.v_mix` [1] in
 * blocks after the first with the shortcuts); see docs/weights.md.
 */
export function parameterNames(c: GPTConfig): string[] {
  const r = resolveConfig(c);
  const names = ['wte.weight'];
  if (c.positionEncoding === 'learned') names.push('wpe.weight');
  const kinds = r.bias ? ['weight', 'bias'] : ['weight'];
  for (let i = 0; i < c.nLayer; i++) {
    if (i > 0 && r.embedShortcut) names.push(`h.${i}.x0_mix`);
    for (const p of ['ln_1', 'attn.c_attn', 'attn.c_proj', 'ln_2', 'mlp.c_fc', 'mlp.c_proj']) {
      for (const k of kinds) names.push(`h.${i}.${p}.${k}`);
    }
    if (i > 0 && r.valueResidual) names.push(`h.${i}.attn.v_mix`);
  }
  for (const k of kinds) names.push(`ln_f.${k}`);
  if (r.untiedHead) names.push('lm_head.weight');
  return names;
}

/** Shapes in GPT-2's layout: linear weights are [in, out] (Conv1D), so y = x·W + b. */
export function parameterShape(c: GPTConfig, name: string): number[] {
  const C = c.nEmbd;
  if (name === 'wte.weight') return [c.vocabSize, C];
  if (name === 'wpe.weight') return [c.contextLength, C];
  if (name === 'lm_head.weight') return [C, c.vocabSize]; // [in, out] like the Conv1D weights: y = x·W
  if (/^h\.\d+\.x0_mix$/.test(name)) return [2];
  if (/^h\.\d+\.attn\.v_mix$/.test(name)) return [1];
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

/**
 * GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/√(2L), LayerNorm at identity; with
 * `zeroInitProj`, the residual projections and the untied head start at zero (modded-nanogpt).
 */
export function initialWeights(c: GPTConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const zeroProj = resolveConfig(c).zeroInitProj;
  const out = new Map<string, Float32Array>();
  for (const name of parameterNames(c)) {
    const shape = parameterShape(c, name);
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    if (/ln_.*\.weight$/.test(name)) a.fill(1);
    else if (name.endsWith('.x0_mix'))
      a[0] = 1; // [1, 0]: the block starts from x alone
    else if (name.endsWith('.v_mix')) a[0] = 0.5;
    else if (zeroProj && (name.endsWith('c_proj.weight') || name === 'lm_head.weight')) {
      // zeros
    } else if (!name.endsWith('.bias')) {
      const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * c.nLayer) : 0.02;
      for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
    }
    out.set(name, a);
  }
  return out;
}

let modelCounter = 0; // tfjs variable names must be unique per process

/**
 * A decoder-only transformer (GPT-2 architecture: pre-LayerNorm blocks, GELU MLP, tied head), with the recipe
 * options of GPTConfig (rotary positions, QK-norm, ReLU², untied head, no biases, logit soft-cap).
 */
export class GPT {
  readonly config: GPTConfig;
  private readonly recipe: ResolvedGPTConfig;
  readonly params = new Map<string, tf.Variable>();
  readonly heads: HeadSpec[] = [];
  readonly trainable: boolean;
  private readonly id: number;
  private readonly mask: tf.Tensor2D; // [ctx, ctx] additive causal mask
  private readonly fixedPositions?: tf.Tensor2D; // [ctx, C] sinusoids
  private readonly rotaryCos?: tf.Tensor2D; // [ctx, hs]
  private readonly rotarySin?: tf.Tensor2D; // [ctx, hs]

  constructor(config: GPTConfig, weights: Map<string, Float32Array>, opts: GPTOptions = {}) {
    this.config = validateConfig(config);
    this.recipe = resolveConfig(config);
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
    if (config.positionEncoding === 'rotary') {
      const hs = config.nEmbd / config.nHead;
      const { cos, sin } = rotaryTables(config.contextLength, hs);
      this.rotaryCos = tf.tensor2d(cos, [config.contextLength, hs]);
      this.rotarySin = tf.tensor2d(sin, [config.contextLength, hs]);
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

    const flatIds = tf.reshape(ids, [B * T]) as tf.Tensor1D;
    const posTable =
      this.config.positionEncoding === 'rotary' ? undefined : (this.fixedPositions ?? this.p<tf.Rank.R2>('wpe.weight'));
    let x: tf.Tensor2D;
    if (posTable && fastKernelsActive()) {
      // token and position embeddings in one kernel each way (speed issue 10)
      x = fusedEmbeddingPositions(this.p('wte.weight'), flatIds, posTable, pos0, T); // [B·T, C]
    } else {
      x = embedding(this.p('wte.weight'), flatIds); // [B·T, C]
      if (posTable) {
        const pos = tf.slice(posTable, [pos0, 0], [T, C]); // [T, C]
        x = tf.reshape(tf.add(tf.reshape(x, [B, T, C]), pos), [B * T, C]) as tf.Tensor2D; // [B·T, C]
      }
    }

    if (opts.dropout && opts.cache) throw new Error('dropout is for training, not generation with a cache');
    const drop = (t: tf.Tensor2D, k: number) => applyDropout(t, opts.dropout, k, B, T);
    x = drop(x, 0);
    const trace: ForwardTrace | undefined = opts.trace ? { attention: [], hidden: [] } : undefined;
    const newCache: KVCache | undefined = opts.cache ? { layers: [], length: pos0 + T } : undefined;
    const x0 = x;
    let v1: tf.Tensor2D | undefined; // the first block's values [B·T, C], for the value residual
    for (let l = 0; l < nLayer; l++) {
      const h = `h.${l}.`;
      if (l > 0 && this.recipe.embedShortcut) {
        const mix = this.p<tf.Rank.R1>(h + 'x0_mix');
        x = tf.add(tf.mul(x, tf.slice(mix, [0], [1])), tf.mul(x0, tf.slice(mix, [1], [1])));
      }
      const a = layerNorm(x, this.p(h + 'ln_1.weight'), this.b(h + 'ln_1.bias'));
      let qkv = linear(a, this.p(h + 'attn.c_attn.weight'), this.b(h + 'attn.c_attn.bias')); // [B·T, 3C]
      if (this.recipe.valueResidual) {
        const v = tf.slice(qkv, [0, 2 * C], [-1, C]);
        if (l === 0) v1 = v;
        else {
          // v + λ·(v₁ − v) = (1 − λ)·v + λ·v₁, then q, k and the mixed v packed again for the attention kernels
          const mixed = tf.add(v, tf.mul(tf.sub(v1!, v), this.p<tf.Rank.R1>(h + 'attn.v_mix')));
          qkv = tf.concat([tf.slice(qkv, [0, 0], [-1, 2 * C]), mixed], 1) as tf.Tensor2D;
        }
      }
      const y = this.attention(qkv, B, T, pos0, opts.cache?.layers[l], newCache, trace); // [B·T, C]
      x = tf.add(x, drop(linear(y, this.p(h + 'attn.c_proj.weight'), this.b(h + 'attn.c_proj.bias')), 2 * l + 1));
      const m = layerNorm(x, this.p(h + 'ln_2.weight'), this.b(h + 'ln_2.bias'));
      const [w1, b1] = [this.p<tf.Rank.R2>(h + 'mlp.c_fc.weight'), this.b<tf.Rank.R1>(h + 'mlp.c_fc.bias')];
      const [w2, b2] = [this.p<tf.Rank.R2>(h + 'mlp.c_proj.weight'), this.b<tf.Rank.R1>(h + 'mlp.c_proj.bias')];
      const mlp =
        this.recipe.mlp === 'relu2'
          ? linear(relu2(linear(m, w1, b1)) as tf.Tensor2D, w2, b2) // [B·T, 4C] inside
          : geluMlp(m, w1, b1, w2, b2);
      x = tf.add(x, drop(mlp, 2 * l + 2));
      trace?.hidden.push(tf.reshape(x, [B, T, C]));
    }

    const xf = tf.reshape(this.finalNorm(x), [B, T, C]) as tf.Tensor3D;
    const hidden = opts.lastOnly ? (tf.slice(xf, [0, T - 1, 0], [B, 1, C]) as tf.Tensor3D) : xf;
    return { hidden, cache: newCache, trace };
  }

  /** Next-token logits [N, V] of hidden states [N, C]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    return this.head(hidden);
  }

  /**
   * Mean next-token cross-entropy of inputs [B, T] against targets [B, T] (nats per token); with a mask [B, T],
   * the mean over the positions where it is 1 (the others carry no loss and no gradient). `dropout`: a
   * training step's (never an evaluation's).
   */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D, mask?: tf.Tensor2D, dropout?: DropoutSpec): tf.Scalar {
    const [B, T] = ids.shape;
    const y = tf.reshape(targets, [B * T]) as tf.Tensor1D;
    const cap = this.recipe.logitSoftCap;
    if (!mask && cap > 0 && this.config.vocabSize <= SOFTCAP_CE_MAX_VOCAB && fastKernelsActive()) {
      // The soft-cap and the cross-entropy as one fused kernel (speed issue 10).
      const hidden = this.hidden(ids, { dropout }).hidden;
      return fusedSoftCapCrossEntropy(this.head(tf.reshape(hidden, [B * T, this.config.nEmbd]), false), y, cap);
    }
    const logits = tf.reshape(this.forward(ids, { dropout }).logits, [B * T, this.config.vocabSize]) as tf.Tensor2D;
    return mask ? maskedCrossEntropy(logits, y, tf.reshape(mask, [B * T])) : crossEntropy(logits, y);
  }

  /** log p(target | prefix) of every position, [B, T]: masked, summed or ratioed by SFT, DPO and PPO. */
  tokenLogProbs(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = ids.shape;
    const logits = tf.reshape(this.forward(ids).logits, [B * T, this.config.vocabSize]) as tf.Tensor2D;
    return tf.reshape(tokenLogProbs(logits, tf.reshape(targets, [B * T])), [B, T]);
  }

  /** The output head: tied to the token embedding (x·wteᵀ) or its own (x·lm_head), soft-capped if asked. */
  head(x: tf.Tensor2D, capped = true): tf.Tensor2D {
    const w = this.recipe.untiedHead
      ? this.p<tf.Rank.R2>('lm_head.weight')
      : tf.transpose(this.p<tf.Rank.R2>('wte.weight'));
    const logits = linear(x, w);
    return capped && this.recipe.logitSoftCap > 0 ? softCap(logits, this.recipe.logitSoftCap) : logits;
  }

  /** The final LayerNorm, for the logit lens. */
  finalNorm(x: tf.Tensor2D): tf.Tensor2D {
    return layerNorm(x, this.p('ln_f.weight'), this.b('ln_f.bias'));
  }

  /** A bias, or undefined in a model without biases. */
  private b<R extends tf.Rank>(name: string): tf.Tensor<R> | undefined {
    return this.recipe.bias ? this.p<R>(name) : undefined;
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
    // Untraced attention runs as fused kernels on wasm: training's (QK-norm and rotary in one more kernel), and
    // generation's against a cache for GPT-2's plain q and k.
    const plainQK = !this.recipe.qkNorm && !this.rotaryCos;
    if (!trace && fastKernelsActive()) {
      if (!past && !newCache) {
        const rot = this.rotaryCos && this.rotarySin ? { cos: this.rotaryCos, sin: this.rotarySin } : undefined;
        return fusedAttention(plainQK ? qkv : fusedQkPrep(qkv, B, T, H, this.recipe.qkNorm, rot), B, T, H);
      }
      if (newCache && B === 1 && plainQK) {
        const { y, k, v } = fusedCachedAttention(qkv, H, past);
        newCache.layers.push({ k: tf.keep(k), v: tf.keep(v) });
        return y;
      }
    }
    const hs = C / H;
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, H, hs]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, hs]
    const [q0, k0, v0] = tf.split(qkv, 3, 1);
    let q = heads(q0);
    let k = heads(k0);
    let v = heads(v0);
    if (this.recipe.qkNorm) {
      q = rmsNorm(q);
      k = rmsNorm(k);
    }
    if (this.rotaryCos && this.rotarySin) {
      const cos = tf.slice(this.rotaryCos, [pos0, 0], [T, hs]); // [T, hs]
      const sin = tf.slice(this.rotarySin, [pos0, 0], [T, hs]);
      q = rotary(q, cos, sin);
      k = rotary(k, cos, sin);
    }
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
    this.rotaryCos?.dispose();
    this.rotarySin?.dispose();
  }
}

export function disposeCache(cache: KVCache | undefined): void {
  if (!cache) return;
  for (const l of cache.layers) {
    l.k.dispose();
    l.v.dispose();
  }
}
