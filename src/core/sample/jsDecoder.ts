import * as tf from '@tensorflow/tfjs-core';
import type { ResolvedGPTConfig } from '../model/config';
import type { GPT } from '../model/gpt';
import { rotaryTables, sinusoids } from '../model/ops';
import type { DecodeEngine } from './decoder';

/**
 * The decoder's JS engine, for CPU backends without the wasm decoder (the cpu backend, GPTLAB_KERNELS=reference):
 * only the matrix products go through tfjs (XNNPACK on wasm), four per layer plus the head, on every new token
 * of every row at once; LayerNorm, attention over the cache, GELU and the residual adds run in plain JS on
 * Float32Arrays, and the cache is a preallocated buffer per layer that is written in place.
 */
export class JsDecodeEngine implements DecodeEngine {
  private readonly w: Weights;
  /** Per layer, keys and values [rows, H, ctx, hs]. */
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];

  constructor(
    model: GPT,
    private readonly c: ResolvedGPTConfig,
    rows: number,
  ) {
    this.w = readWeights(model, c);
    const size = rows * c.contextLength * c.nEmbd;
    this.keys = Array.from({ length: c.nLayer }, () => new Float32Array(size));
    this.values = Array.from({ length: c.nLayer }, () => new Float32Array(size));
  }

  current(): boolean {
    return this.w.versions.every(([v, id]) => (v as unknown as { dataId: object }).dataId === id);
  }

  run(ids: number[], rowOf: number[], posOf: number[], lastOf: number[]): Float32Array {
    const { nEmbd: C, nLayer: L } = this.c;
    const N = ids.length;
    const x = this.embed(ids, posOf);
    const a = new Float32Array(N * C);
    const x0 = this.c.embedShortcut ? x.slice() : undefined;
    const v1 = this.c.valueResidual ? new Float32Array(N * C) : undefined;
    for (let l = 0; l < L; l++) {
      const lw = this.w.layers[l];
      const mix = lw.x0mix;
      if (mix && x0) for (let i = 0; i < x.length; i++) x[i] = x[i] * mix[0] + x0[i] * mix[1];
      layerNorm(x, a, N, C, lw.ln1, lw.ln1b);
      const qkv = matMul(a, N, lw.attn, lw.attnB);
      if (v1) valueResidual(qkv, v1, N, C, lw.vmix);
      const y = this.attend(l, qkv, N, rowOf, posOf);
      addInto(x, matMul(y, N, lw.proj, lw.projB));
      layerNorm(x, a, N, C, lw.ln2, lw.ln2b);
      const u = matMul(a, N, lw.fc, lw.fcB);
      if (this.c.mlp === 'relu2') relu2(u);
      else gelu(u);
      addInto(x, matMul(u, N, lw.fc2, lw.fc2B));
    }
    const last = new Float32Array(lastOf.length * C);
    lastOf.forEach((n, i) => last.set(x.subarray(n * C, (n + 1) * C), i * C));
    const normed = new Float32Array(lastOf.length * C);
    layerNorm(last, normed, lastOf.length, C, this.w.lnf, this.w.lnfB);
    const logits = matMul(normed, lastOf.length, this.w.head);
    const cap = this.c.logitSoftCap;
    if (cap > 0) for (let i = 0; i < logits.length; i++) logits[i] = cap * Math.tanh(logits[i] / cap);
    return logits;
  }

  private embed(ids: number[], posOf: number[]): Float32Array {
    const C = this.c.nEmbd;
    const idt = tf.tensor1d(ids, 'int32');
    const g = tf.gather(this.w.wte, idt);
    const x = Float32Array.from(g.dataSync() as Float32Array);
    tf.dispose([idt, g]);
    const pos = this.w.positions;
    if (pos) posOf.forEach((p, n) => addInto(x.subarray(n * C, (n + 1) * C), pos.subarray(p * C, (p + 1) * C)));
    return x;
  }

  /** Writes each token's key and value into its row's cache, then attends over the row up to its position. */
  private attend(l: number, qkv: Float32Array, N: number, rowOf: number[], posOf: number[]): Float32Array {
    const { nEmbd: C, nHead: H, contextLength: ctx } = this.c;
    const hs = C / H;
    const K = this.keys[l];
    const Vc = this.values[l];
    const q = new Float32Array(N * C);
    for (let n = 0; n < N; n++) {
      const src = n * 3 * C;
      for (let h = 0; h < H; h++) {
        const at = ((rowOf[n] * H + h) * ctx + posOf[n]) * hs;
        const qh = q.subarray(n * C + h * hs, n * C + (h + 1) * hs);
        qh.set(qkv.subarray(src + h * hs, src + (h + 1) * hs));
        const kh = K.subarray(at, at + hs);
        kh.set(qkv.subarray(src + C + h * hs, src + C + (h + 1) * hs));
        Vc.set(qkv.subarray(src + 2 * C + h * hs, src + 2 * C + (h + 1) * hs), at);
        if (this.c.qkNorm) {
          rmsNormInPlace(qh);
          rmsNormInPlace(kh);
        }
        if (this.w.rotary) {
          rotate(qh, this.w.rotary, posOf[n]);
          rotate(kh, this.w.rotary, posOf[n]);
        }
      }
    }
    const y = new Float32Array(N * C);
    const scale = 1 / Math.sqrt(hs);
    const scores = new Float64Array(ctx);
    for (let n = 0; n < N; n++) {
      const Tk = posOf[n] + 1;
      for (let h = 0; h < H; h++) {
        const base = (rowOf[n] * H + h) * ctx * hs;
        const qo = n * C + h * hs;
        let max = -Infinity;
        for (let t = 0; t < Tk; t++) {
          let s = 0;
          const ko = base + t * hs;
          for (let i = 0; i < hs; i++) s += q[qo + i] * K[ko + i];
          s *= scale;
          scores[t] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let t = 0; t < Tk; t++) {
          scores[t] = Math.exp(scores[t] - max);
          sum += scores[t];
        }
        for (let t = 0; t < Tk; t++) {
          const p = scores[t] / sum;
          const vo = base + t * hs;
          for (let i = 0; i < hs; i++) y[qo + i] += p * Vc[vo + i];
        }
      }
    }
    return y;
  }

  dispose(): void {
    this.w.owned.forEach((t) => t.dispose());
  }
}

interface LayerWeights {
  ln1: Float32Array;
  ln1b?: Float32Array;
  ln2: Float32Array;
  ln2b?: Float32Array;
  attn: tf.Tensor3D;
  attnB?: tf.Tensor1D;
  proj: tf.Tensor3D;
  projB?: tf.Tensor1D;
  fc: tf.Tensor3D;
  fcB?: tf.Tensor1D;
  fc2: tf.Tensor3D;
  fc2B?: tf.Tensor1D;
  /** [λ₀, λ₁] of the embedding shortcut, λ of the value residual (blocks after the first, when on). */
  x0mix?: Float32Array;
  vmix?: Float32Array;
}

interface Weights {
  wte: tf.Tensor2D;
  /** [ctx, C] added to the token embeddings (learned or sinusoidal), none with rotary. */
  positions?: Float32Array;
  rotary?: { cos: Float32Array; sin: Float32Array; hs: number };
  layers: LayerWeights[];
  lnf: Float32Array;
  lnfB?: Float32Array;
  /** [1, C, V]: lm_head, or wteᵀ made once (a transposed operand would leave XNNPACK's fast path). */
  head: tf.Tensor3D;
  /** Tensors this decoder made and disposes. */
  owned: tf.Tensor[];
  /** The variables read, with the dataId each had: an optimizer's assign gives a new one. */
  versions: [tf.Variable, object][];
}

/** The small parameters as JS arrays, the matrices as the model's own tensors. */
function readWeights(model: GPT, c: ResolvedGPTConfig): Weights {
  const versions: [tf.Variable, object][] = [];
  const tensor = <R extends tf.Rank>(name: string) => {
    const v = model.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    versions.push([v, (v as unknown as { dataId: object }).dataId]);
    return v as unknown as tf.Tensor<R>;
  };
  const array = (name: string) => tensor(name).dataSync() as Float32Array;
  const owned: tf.Tensor[] = [];
  /** The matrix as [1, in, out] (a view: reshape shares the data). */
  const matrix = (name: string) => {
    const m = tensor<tf.Rank.R2>(name);
    const r = tf.reshape(m, [1, ...m.shape]) as tf.Tensor3D;
    owned.push(r);
    return r;
  };
  const opt = <T>(name: string, f: (n: string) => T) => (c.bias ? f(name) : undefined);
  const { contextLength: ctx, nEmbd: C } = c;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    const h = `h.${l}.`;
    layers.push({
      ln1: array(h + 'ln_1.weight'),
      ln1b: opt(h + 'ln_1.bias', array),
      ln2: array(h + 'ln_2.weight'),
      ln2b: opt(h + 'ln_2.bias', array),
      attn: matrix(h + 'attn.c_attn.weight'),
      attnB: opt(h + 'attn.c_attn.bias', tensor<tf.Rank.R1>),
      proj: matrix(h + 'attn.c_proj.weight'),
      projB: opt(h + 'attn.c_proj.bias', tensor<tf.Rank.R1>),
      fc: matrix(h + 'mlp.c_fc.weight'),
      fcB: opt(h + 'mlp.c_fc.bias', tensor<tf.Rank.R1>),
      fc2: matrix(h + 'mlp.c_proj.weight'),
      fc2B: opt(h + 'mlp.c_proj.bias', tensor<tf.Rank.R1>),
      x0mix: l > 0 && c.embedShortcut ? array(h + 'x0_mix') : undefined,
      vmix: l > 0 && c.valueResidual ? array(h + 'attn.v_mix') : undefined,
    });
  }
  const wte = tensor<tf.Rank.R2>('wte.weight');
  let head: tf.Tensor3D;
  if (c.untiedHead) head = matrix('lm_head.weight');
  else {
    head = tf.tidy(() => tf.reshape(tf.transpose(wte), [1, c.nEmbd, c.vocabSize]) as tf.Tensor3D);
    owned.push(head);
  }
  const positions =
    c.positionEncoding === 'learned'
      ? array('wpe.weight')
      : c.positionEncoding === 'sinusoidal'
        ? sinusoids(ctx, C)
        : undefined;
  const hs = C / c.nHead;
  const rotary = c.positionEncoding === 'rotary' ? { ...rotaryTables(ctx, hs), hs } : undefined;
  return {
    wte,
    positions,
    rotary,
    layers,
    lnf: array('ln_f.weight'),
    lnfB: opt('ln_f.bias', array),
    head,
    owned,
    versions,
  };
}

/**
 * x [N, in] · w [1, in, out] (+ b) on the backend; one product for every row of x. The kernel is called directly
 * with 3-D operands: tf.matMul would add three reshapes (kernels of their own) around it.
 */
function matMul(x: Float32Array, N: number, w: tf.Tensor3D, b?: tf.Tensor1D): Float32Array {
  const xt = tf.tensor3d(x, [1, N, w.shape[1]]);
  const y = b
    ? tf.engine().runKernel(tf._FusedMatMul, { a: xt, b: w, bias: b }, { ...PLAIN, activation: 'linear' })
    : tf.engine().runKernel(tf.BatchMatMul, { a: xt, b: w }, PLAIN);
  const out = (y as tf.Tensor).dataSync() as Float32Array;
  xt.dispose();
  (y as tf.Tensor).dispose();
  return out;
}
const PLAIN = { transposeA: false, transposeB: false };

/** Layer 0 keeps its values v₁ (per token); later layers mix them in: v ← v + λ·(v₁ − v), as gpt.ts. */
function valueResidual(qkv: Float32Array, v1: Float32Array, N: number, C: number, vmix?: Float32Array): void {
  for (let n = 0; n < N; n++) {
    const v = qkv.subarray(n * 3 * C + 2 * C, (n + 1) * 3 * C);
    const first = v1.subarray(n * C, (n + 1) * C);
    if (!vmix) first.set(v);
    else for (let i = 0; i < C; i++) v[i] = v[i] + (first[i] - v[i]) * vmix[0];
  }
}

function addInto(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

/** LayerNorm of each row of x [N, C] into out (eps 1e-5, as ops.ts). */
function layerNorm(x: Float32Array, out: Float32Array, N: number, C: number, g: Float32Array, b?: Float32Array): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let mean = 0;
    for (let i = 0; i < C; i++) mean += x[o + i];
    mean /= C;
    let v = 0;
    for (let i = 0; i < C; i++) v += (x[o + i] - mean) ** 2;
    const r = 1 / Math.sqrt(v / C + 1e-5);
    for (let i = 0; i < C; i++) out[o + i] = (x[o + i] - mean) * r * g[i] + (b ? b[i] : 0);
  }
}

/** QK-norm: x / √(mean(x²) + 1e-6), as ops.ts's rmsNorm. */
function rmsNormInPlace(x: Float32Array): void {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  const r = 1 / Math.sqrt(s / x.length + 1e-6);
  for (let i = 0; i < x.length; i++) x[i] *= r;
}

/** Rotary embedding at position p: x·cos + [−x2, x1]·sin (ops.ts's rotary). */
function rotate(x: Float32Array, r: { cos: Float32Array; sin: Float32Array; hs: number }, p: number): void {
  const half = r.hs / 2;
  const o = p * r.hs;
  for (let i = 0; i < half; i++) {
    const x1 = x[i];
    const x2 = x[half + i];
    x[i] = x1 * r.cos[o + i] - x2 * r.sin[o + i];
    x[half + i] = x2 * r.cos[o + half + i] + x1 * r.sin[o + half + i];
  }
}

const GELU_K = Math.sqrt(2 / Math.PI);
function gelu(x: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = 0.5 * v * (1 + Math.tanh(GELU_K * (v + 0.044715 * v * v * v)));
  }
}

function relu2(x: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i] > 0 ? x[i] * x[i] : 0;
}
