import * as tf from '@tensorflow/tfjs-core';
import { AdamWEntry, fastKernelsActive, fusedAdamW, fusedAdamWInPlace, fusedGradNorm } from '../kernels';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay, applied to matrices only (not biases, LayerNorm gains or… vectors). */
  weightDecay: number;
}

/**
 * AdamW (Loshchilov & Hutter) over named variables, with global-norm gradient clipping.
 * Its moments are named `exp_avg.<param>` / `exp_avg_sq.<param>` like PyTorch's state.
 */
export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** Updates applied so far (for bias correction). */
  t = 0;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly cfg: AdamWConfig,
  ) {
    for (const [name, p] of params) {
      // tidy frees the zeros once the variable holds its own reference to the data.
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
    }
  }

  /**
   * `grads` is keyed by variable name, as tf.variableGrads returns it.
   * Clips the gradients to `clipNorm` (global L2 norm), then applies one update at learning rate `lr`.
   * Returns the global gradient norm before clipping (a scalar tensor the caller disposes).
   */
  step(grads: Record<string, tf.Tensor>, lr: number, clipNorm: number): tf.Scalar {
    if (fastKernelsActive()) {
      const [norm, scale] = fusedGradNorm(Object.values(grads), clipNorm);
      tf.tidy(() => this.apply(grads, lr, scale));
      scale.dispose();
      return norm;
    }
    const norm = globalNorm(grads);
    tf.tidy(() => this.apply(grads, lr, clipScale(norm, clipNorm)));
    return norm;
  }

  /** One update of its parameters from `grads` multiplied by `scale` (the clip factor); call inside tf.tidy. */
  apply(grads: Record<string, tf.Tensor>, lr: number, scale: tf.Scalar): void {
    this.t++;
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    const fast = fastKernelsActive();
    if (fast) {
      // Every parameter in one wasm call, in place, where no other tensor shares their memory.
      const entries: AdamWEntry[] = [];
      for (const [name, p] of this.params) {
        const g = grads[p.name];
        if (!g) continue;
        const decay = p.rank >= 2 && weightDecay > 0 ? 1 - lr * weightDecay : 1;
        entries.push({ p, g, m: this.m.get(name)!, v: this.v.get(name)!, decay });
      }
      if (fusedAdamWInPlace(entries, scale, { lr, beta1, beta2, bc1, bc2, eps })) return;
    }
    {
      for (const [name, p] of this.params) {
        const g0 = grads[p.name]; // tf.variableGrads keys gradients by the variable's own name
        if (!g0) continue;
        if (fast) {
          // One fused kernel per parameter instead of a dozen element-wise ops.
          const decay = p.rank >= 2 && weightDecay > 0 ? 1 - lr * weightDecay : 1;
          const m = this.m.get(name)!;
          const v = this.v.get(name)!;
          const [p1, m1, v1] = fusedAdamW(p, g0, m, v, scale, { lr, beta1, beta2, bc1, bc2, eps, decay });
          p.assign(p1);
          m.assign(m1);
          v.assign(v1);
          continue;
        }
        const g = tf.mul(g0, scale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        const update = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), eps));
        const decayed = p.rank >= 2 && weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    }
  }

  /** The moments as named tensors: the checkpoint reads them asynchronously (webgpu cannot read synchronously). */
  stateTensors(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, m] of this.m) out.set(`exp_avg.${name}`, m);
    for (const [name, v] of this.v) out.set(`exp_avg_sq.${name}`, v);
    return out;
  }

  /** Moments as named typed arrays, for the checkpoint. */
  state(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, m] of this.m) out.set(`exp_avg.${name}`, m.dataSync() as Float32Array);
    for (const [name, v] of this.v) out.set(`exp_avg_sq.${name}`, v.dataSync() as Float32Array);
    return out;
  }

  loadState(state: Map<string, Float32Array>, t: number): void {
    for (const [prefix, vars] of [
      ['exp_avg', this.m],
      ['exp_avg_sq', this.v],
    ] as const) {
      for (const [name, variable] of vars) {
        const data = state.get(`${prefix}.${name}`);
        if (!data || data.length !== variable.size)
          throw new Error(`optimizer state ${prefix}.${name} is missing or of the wrong size`);
        tf.tidy(() => variable.assign(tf.tensor(data, variable.shape)));
      }
    }
    this.t = t;
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}

/** The global L2 norm of all gradients (a scalar the caller disposes). */
export function globalNorm(grads: Record<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** The factor that clips gradients of global norm `norm` to `clipNorm` (1 when clipping is off). */
export function clipScale(norm: tf.Scalar, clipNorm: number): tf.Scalar {
  return clipNorm > 0 ? tf.minimum(1, tf.div(clipNorm, tf.add(norm, 1e-6))) : tf.scalar(1);
}
