import * as tf from '@tensorflow/tfjs-core';
import { transposedProductsFast } from '../model/ops';
import { AdamW, AdamWConfig, clipScale, globalNorm } from './adamw';

/**
 * Muon (Keller Jordan, modded-nanogpt): SGD momentum whose update, for a 2-D weight, is orthogonalised — the
 * momentum matrix G = U·S·Vᵀ replaced by about U·Vᵀ (every singular value near 1) by a few Newton–Schulz
 * iterations. Every direction of the matrix moves by the same amount, so rare directions learn as fast as
 * common ones. Only the hidden matrices of the blocks use it; embeddings, head, gains and biases use AdamW.
 */

/** Coefficients of modded-nanogpt's quintic iteration, tuned to push singular values into ~[0.7, 1.2] fast. */
const NS_A = 3.4445;
const NS_B = -4.775;
const NS_C = 2.0315;

/**
 * ≈ U·Vᵀ of g [r, c] by `steps` quintic Newton–Schulz iterations X ← p(A)·X, p(A) = a·I + b·A + c·A², A = X·Xᵀ
 * on the small side (m = min(r, c)). The iteration runs on the m×m Gram matrix alone: p(A) commutes with A, so
 * the next Gram matrix is p·A·p and the result is X₀ multiplied once by Q = p₅⋯p₁. Only the first and last
 * products touch the full matrix; the rest are m×m. On tfjs wasm that is ~2× faster than iterating on X (each
 * matmul with a fresh right operand repacks it, and the full-size ones dominate); the result agrees with the
 * plain iteration within ~1e-5. Every product is a plain, non-transposed 2-D matmul (wasm's fast path: a
 * transposed flag or a batched 3-D matmul takes a scalar loop, so matrices are not stacked).
 */
export function newtonSchulz(g: tf.Tensor2D, steps = 5): tf.Tensor2D {
  return tf.tidy(() => {
    const [r, c] = g.shape;
    const wide = r <= c;
    const m = Math.min(r, c);
    const x = tf.div(g, tf.add(tf.sqrt(tf.sum(tf.square(g))), 1e-7)); // spectral norm ≤ Frobenius norm ≤ 1
    const eye = tf.eye(m);
    const aI = tf.mul(eye, NS_A);
    const bI = tf.mul(eye, NS_B);
    const cS = tf.scalar(NS_C);
    // A = X·Xᵀ for a wide X, Xᵀ·X for a tall one: [m, m]
    // gemm.c takes the flag at full speed; elsewhere a transposed flag is tfjs's scalar loop.
    let a: tf.Tensor2D = transposedProductsFast()
      ? tf.matMul(x, x, !wide, wide)
      : wide
        ? tf.matMul(x, tf.transpose(x))
        : tf.matMul(tf.transpose(x), x);
    let q: tf.Tensor2D | undefined;
    for (let i = 0; i < steps; i++) {
      const p: tf.Tensor2D = tf.add(tf.matMul(a, tf.add(tf.mul(a, cS), bI)), aI); // a·I + b·A + c·A²
      q = q ? tf.matMul(q, p) : p;
      if (i < steps - 1) a = tf.matMul(tf.matMul(p, a), p);
    }
    if (!q) return x as tf.Tensor2D;
    return wide ? tf.matMul(q, x) : tf.matMul(x, q); // Q is symmetric: (X·Q)ᵀ = Q·Xᵀ
  });
}

/**
 * The same iteration on X itself (modded-nanogpt's form, X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ every step):
 * the reference newtonSchulz is tested and benchmarked against.
 */
export function newtonSchulzReference(g: tf.Tensor2D, steps = 5): tf.Tensor2D {
  return tf.tidy(() => {
    const tall = g.shape[0] > g.shape[1];
    let x = tall ? tf.transpose(g) : g; // [m, n], m ≤ n
    x = tf.div(x, tf.add(tf.norm(x), 1e-7));
    for (let i = 0; i < steps; i++) {
      const a = tf.matMul(x, tf.transpose(x)); // [m, m]
      const b = tf.add(tf.mul(a, NS_B), tf.mul(tf.matMul(a, a), NS_C));
      x = tf.add(tf.mul(x, NS_A), tf.matMul(b, x));
    }
    return tall ? tf.transpose(x) : x;
  });
}

export interface MuonConfig {
  /** Momentum coefficient (modded-nanogpt: 0.95), with Nesterov's look-ahead. */
  momentum: number;
  /** Orthogonalise with newtonSchulzReference (the benchmark's comparison); default false. */
  reference?: boolean;
  /** Decoupled weight decay: W ← W·(1 − lr·weightDecay) before each update (default 0: none). */
  weightDecay?: number;
}

/** Muon over named 2-D variables. Its state is `momentum_buffer.<param>`, like PyTorch's SGD. */
export class Muon {
  private readonly buf = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly cfg: MuonConfig,
  ) {
    for (const [name, p] of params) {
      if (p.rank !== 2) throw new Error(`Muon updates matrices only; ${name} has rank ${p.rank}`);
      this.buf.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
    }
  }

  /**
   * One update from `grads` (keyed by variable name) times `scale`: buf ← μ·buf + g; u = g + μ·buf (Nesterov);
   * W ← W·(1 − lr·wd) − lr·√max(1, out/in)·orth(u). Call inside tf.tidy.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, scale: tf.Scalar): void {
    const mu = this.cfg.momentum;
    const wd = this.cfg.weightDecay ?? 0;
    for (const [name, p] of this.params) {
      const g0 = grads[p.name];
      if (!g0) continue;
      const g = tf.mul(g0, scale);
      const b = this.buf.get(name)!;
      const b1 = tf.add(tf.mul(b, mu), g);
      b.assign(b1);
      const u = tf.add(g, tf.mul(b1, mu)) as tf.Tensor2D;
      const [fanIn, fanOut] = p.shape;
      const o = this.cfg.reference ? newtonSchulzReference(u) : newtonSchulz(u);
      const decayed = wd > 0 ? tf.mul(p, 1 - lr * wd) : p; // 0: exactly the update without decay
      p.assign(tf.sub(decayed, tf.mul(o, lr * Math.sqrt(Math.max(1, fanOut / fanIn)))));
    }
  }

  stateTensors(): Map<string, tf.Tensor> {
    return new Map([...this.buf].map(([name, b]) => [`momentum_buffer.${name}`, b]));
  }

  state(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, b] of this.buf) out.set(`momentum_buffer.${name}`, b.dataSync() as Float32Array);
    return out;
  }

  loadState(state: Map<string, Float32Array>): void {
    for (const [name, b] of this.buf) {
      const data = state.get(`momentum_buffer.${name}`);
      if (!data || data.length !== b.size)
        throw new Error(`optimizer state momentum_buffer.${name} is missing or of the wrong size`);
      tf.tidy(() => b.assign(tf.tensor(data, b.shape)));
    }
  }

  dispose(): void {
    for (const b of this.buf.values()) b.dispose();
  }
}

/** What the training loop asks of an optimizer: AdamW alone, or Muon for hidden matrices with AdamW beside it. */
export interface Optimizer {
  /** Updates applied so far. */
  readonly t: number;
  /** Clips to `clipNorm` (global norm over all gradients), updates at `lr`; returns the norm before clipping. */
  step(grads: Record<string, tf.Tensor>, lr: number, clipNorm: number): tf.Scalar;
  /** Named state for optimizer.safetensors: `exp_avg.*`, `exp_avg_sq.*` (AdamW), `momentum_buffer.*` (Muon). */
  state(): Map<string, Float32Array>;
  /** The same state as tensors, to read asynchronously (the training loop's checkpoints). */
  stateTensors(): Map<string, tf.Tensor>;
  loadState(state: Map<string, Float32Array>, t: number): void;
  dispose(): void;
}

/** The weights Muon takes: the blocks' 2-D matrices (attention and MLP), not embeddings, head or heads. */
export function isMuonParam(name: string, p: tf.Variable): boolean {
  return p.rank === 2 && /^h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(name);
}

/**
 * How much faster than the schedule's rate AdamW's share (embeddings, head, gains) runs under Muon. With Muon
 * taking the blocks' matrices, what is left to AdamW tolerates a higher rate (modded-nanogpt gives embeddings and
 * head rates of their own); measured at `tiny` size on two codebases, ×2 reached GPT-2's final loss in 0.24×
 * (JavaScript) and 0.21× (Python) of its tokens where ×1 took 0.41× and 0.28× (docs/experiments.md).
 */
export const MUON_ADAM_LR_SCALE = 2;

/**
 * Muon for the hidden matrices, AdamW for the rest. `lr` given to step is the schedule's rate: AdamW's share runs
 * at adamLrScale × lr (default MUON_ADAM_LR_SCALE), Muon's at lr × muonLr / adamPeakLr. Muon's matrices get AdamW's
 * weight decay never, Muon's own (MuonConfig.weightDecay) when asked.
 */
export class MuonAdamW implements Optimizer {
  private readonly adam: AdamW;
  private readonly muon: Muon;
  private readonly muonScale: number;
  private readonly adamScale: number;

  constructor(
    params: Map<string, tf.Variable>,
    adam: AdamWConfig,
    muon: MuonConfig & { lr: number; adamPeakLr: number; adamLrScale?: number },
  ) {
    const hidden = new Map<string, tf.Variable>();
    const rest = new Map<string, tf.Variable>();
    for (const [name, p] of params) (isMuonParam(name, p) ? hidden : rest).set(name, p);
    this.adam = new AdamW(rest, adam);
    this.muon = new Muon(hidden, muon);
    this.muonScale = muon.lr / muon.adamPeakLr;
    this.adamScale = muon.adamLrScale ?? MUON_ADAM_LR_SCALE;
  }

  get t(): number {
    return this.adam.t;
  }

  step(grads: Record<string, tf.Tensor>, lr: number, clipNorm: number): tf.Scalar {
    const norm = globalNorm(grads);
    tf.tidy(() => {
      const scale = clipScale(norm, clipNorm);
      this.adam.apply(grads, lr * this.adamScale, scale);
      this.muon.apply(grads, lr * this.muonScale, scale);
    });
    return norm;
  }

  stateTensors(): Map<string, tf.Tensor> {
    return new Map([...this.adam.stateTensors(), ...this.muon.stateTensors()]);
  }

  state(): Map<string, Float32Array> {
    return new Map([...this.adam.state(), ...this.muon.state()]);
  }

  loadState(state: Map<string, Float32Array>, t: number): void {
    this.adam.loadState(state, t);
    this.muon.loadState(state);
  }

  dispose(): void {
    this.adam.dispose();
    this.muon.dispose();
  }
}

/** The parameter a piece of optimizer state belongs to (`exp_avg.h.0.ln_1.weight` → `h.0.ln_1.weight`). */
export function stateParamName(stateName: string): string {
  return stateName.replace(/^(exp_avg_sq|exp_avg|momentum_buffer)\./, '');
}
