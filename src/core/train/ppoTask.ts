import * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../model/gpt';
import { linear, tokenLogProbs } from '../model/ops';
import type { ModelFolderConfig } from '../model/persist';
import type { Rng } from '../rng';
import { generateBatchAsync } from '../sample/batch';
import type { Tokenizer } from '../tokenizer';
import { scoreSequences } from './pairs';
import { readAndDispose } from './readAsync';
import type { EvalMetrics, TaskLoss, TrainTask } from './task';

/** Scores whole responses (a reward model, or a rule in tests): one number per row. */
export type Scorer = (rows: { prompt: number[]; response: number[] }[]) => number[] | Promise<number[]>;

export const VALUE_HEAD = 'v_head.weight';

export interface PpoOptions {
  /** Prompts per rollout. */
  batchSize: number;
  maxNewTokens: number;
  /** β of the per-token KL penalty against the reference. */
  klCoef: number;
  /** PPO's clip range ε. */
  clip: number;
  /** Weight of the value loss. */
  vfCoef: number;
  gamma: number;
  lambda: number;
  /** Optimizer steps on each rollout before a fresh one. */
  ppoEpochs: number;
  temperature: number;
}

export const PPO_DEFAULTS: Omit<PpoOptions, 'batchSize'> = {
  maxNewTokens: 16,
  klCoef: 0.05,
  clip: 0.2,
  vfCoef: 0.1,
  gamma: 1,
  lambda: 0.95,
  ppoEpochs: 2,
  temperature: 1,
};

/** A batch of sampled responses with what PPO needs at each response token. */
export interface Rollout {
  x: Int32Array;
  y: Int32Array;
  /** 1 where y is a response token (an action). */
  mask: Float32Array;
  B: number;
  T: number;
  oldLogp: Float32Array;
  advantages: Float32Array;
  returns: Float32Array;
  score: number;
  kl: number;
}

/**
 * Stage 3c: PPO with a KL penalty (Ouyang et al., 2022). The policy samples responses to prompts, a scorer rates
 * them, the reward at each token is −β·(log π − log π_ref) plus the score at the last, GAE turns rewards and the
 * value head's estimates into advantages, and the clipped objective moves the policy.
 */
export class PpoTask implements TrainTask<Rollout> {
  readonly stage = 'ppo';
  private cached?: { rollout: Rollout; uses: number };

  constructor(
    readonly model: GPT,
    private readonly reference: GPT,
    readonly tokenizer: Tokenizer,
    private readonly score: Scorer,
    private readonly prompts: number[][],
    private readonly valPrompts: number[][],
    private readonly opts: PpoOptions,
    private readonly extra: Partial<ModelFolderConfig> = {},
  ) {}

  async nextBatch(rng: Rng): Promise<Rollout> {
    if (this.cached && this.cached.uses < this.opts.ppoEpochs) {
      this.cached.uses++;
      return this.cached.rollout;
    }
    const prompts = Array.from({ length: this.opts.batchSize }, () => this.prompts[rng.int(this.prompts.length)]);
    const rollout = await this.rollout(
      prompts,
      prompts.map(() => rng.int(2 ** 31)),
    );
    this.cached = { rollout, uses: 1 };
    return rollout;
  }

  /** Samples responses and computes rewards, values and advantages (no gradients). */
  async rollout(prompts: number[][], seeds: number[]): Promise<Rollout> {
    const { maxNewTokens, temperature } = this.opts;
    const eot = this.tokenizer.specials.endOfText;
    const ctx = this.model.config.contextLength;
    // Room for the response: the prompt keeps its last tokens.
    const cut = prompts.map((p) => p.slice(-Math.max(1, ctx - maxNewTokens)));
    const s = this.tokenizer.specials;
    const rows = await generateBatchAsync(this.model, this.tokenizer, cut, {
      maxTokens: maxNewTokens,
      temperature,
      seeds,
      suppressTokens: [s.fimPrefix, s.fimSuffix, s.fimMiddle],
    });
    // The end-of-text that ended a response is an action too.
    const responses = rows.map((r) => (r.stopReason === 'end-of-text' ? [...r.tokens, eot] : r.tokens));
    const scores = await this.score(cut.map((p, i) => ({ prompt: p, response: responses[i] })));
    const seqs = cut.map((p, i) => ({ ids: [...p, ...responses[i]], promptLen: p.length }));
    const B = seqs.length;
    const T = Math.max(1, ...seqs.map((q) => q.ids.length - 1));
    const x = new Int32Array(B * T).fill(eot);
    const y = new Int32Array(B * T).fill(eot);
    const mask = new Float32Array(B * T);
    seqs.forEach((q, b) => {
      for (let t = 0; t + 1 < q.ids.length; t++) {
        x[b * T + t] = q.ids[t];
        y[b * T + t] = q.ids[t + 1];
        mask[b * T + t] = t + 1 >= q.promptLen ? 1 : 0;
      }
    });
    const [logp, values, refLogp] = await readAndDispose(
      tf.tidy(() => {
        const { logp, values } = this.evaluateTokens(x, y, B, T);
        const ref = this.reference.tokenLogProbs(tf.tensor2d(x, [B, T], 'int32'), tf.tensor2d(y, [B, T], 'int32'));
        return [logp, values, ref];
      }),
    );
    const advantages = new Float32Array(B * T);
    const returns = new Float32Array(B * T);
    let klSum = 0;
    for (let b = 0; b < B; b++) {
      const pos: number[] = [];
      for (let t = 0; t < T; t++) if (mask[b * T + t]) pos.push(b * T + t);
      let next = 0; // A_{k+1}
      for (let k = pos.length - 1; k >= 0; k--) {
        const i = pos[k];
        const kl = logp[i] - refLogp[i];
        klSum += kl;
        const reward = -this.opts.klCoef * kl + (k === pos.length - 1 ? scores[b] : 0);
        const vNext = k + 1 < pos.length ? values[pos[k + 1]] : 0;
        const delta = reward + this.opts.gamma * vNext - values[i];
        next = delta + this.opts.gamma * this.opts.lambda * next;
        advantages[i] = next;
        returns[i] = next + values[i];
      }
    }
    whiten(advantages, mask);
    return {
      x,
      y,
      mask,
      B,
      T,
      oldLogp: logp,
      advantages,
      returns,
      score: scores.reduce((a, v) => a + v, 0) / B,
      kl: klSum / B,
    };
  }

  /** The policy's log-probability of each target and the value head's estimate at each position, [B·T] each. */
  private evaluateTokens(x: Int32Array, y: Int32Array, B: number, T: number) {
    const C = this.model.config.nEmbd;
    const h = tf.reshape(this.model.hidden(tf.tensor2d(x, [B, T], 'int32')).hidden, [B * T, C]) as tf.Tensor2D;
    const logp = tokenLogProbs(this.model.logits(h), tf.tensor1d(y, 'int32'));
    const values = tf.reshape(linear(h, this.model.param<tf.Rank.R2>(VALUE_HEAD)), [B * T]) as tf.Tensor1D;
    return { logp, values };
  }

  batchTokens(r: Rollout): number {
    return r.B * r.T;
  }

  loss(r: Rollout): TaskLoss {
    const { logp, values } = this.evaluateTokens(r.x, r.y, r.B, r.T);
    const m = tf.tensor1d(r.mask);
    const n = tf.maximum(tf.sum(m), 1);
    const mean = (t: tf.Tensor) => tf.div(tf.sum(tf.mul(t, m)), n) as tf.Scalar;
    const adv = tf.tensor1d(r.advantages);
    const ratio = tf.exp(tf.sub(logp, tf.tensor1d(r.oldLogp)));
    const clipped = tf.clipByValue(ratio, 1 - this.opts.clip, 1 + this.opts.clip);
    const policyLoss = mean(tf.neg(tf.minimum(tf.mul(ratio, adv), tf.mul(clipped, adv))));
    const valueLoss = mean(tf.mul(tf.square(tf.sub(values, tf.tensor1d(r.returns))), 0.5));
    const clipFraction = mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), this.opts.clip), 'float32'));
    return {
      loss: tf.add(policyLoss, tf.mul(valueLoss, this.opts.vfCoef)) as tf.Scalar,
      metrics: {
        reward: tf.scalar(r.score),
        kl: tf.scalar(r.kl),
        clipFraction,
        valueLoss,
        policyLoss,
      },
    };
  }

  /** Held-out prompts, sampled with fixed seeds: mean score and KL; valLoss is −score (lower is better). */
  async evaluate(): Promise<EvalMetrics> {
    if (!this.valPrompts.length) return { valLoss: NaN, reward: NaN, kl: NaN };
    const r = await this.rollout(
      this.valPrompts,
      this.valPrompts.map((_, i) => 1000 + i),
    );
    return { valLoss: -r.score, reward: r.score, kl: r.kl };
  }

  folderConfig(): Partial<ModelFolderConfig> {
    return this.extra;
  }

  /** The rollout whose later PPO epochs are still to come: a resumed run trains on these very samples. */
  saveState(): Record<string, unknown> {
    const c = this.cached;
    if (!c || c.uses >= this.opts.ppoEpochs) return {};
    const r = c.rollout;
    const rollout: SavedRollout = {
      uses: c.uses,
      B: r.B,
      T: r.T,
      score: r.score,
      kl: r.kl,
      ...Object.fromEntries(ROLLOUT_ARRAYS.map((k) => [k, Array.from(r[k])])),
    } as SavedRollout;
    return { rollout };
  }

  restoreState(state: Record<string, unknown>): void {
    const r = state.rollout as Partial<SavedRollout> | undefined;
    if (!r || typeof r !== 'object') return;
    const n = (r.B ?? 0) * (r.T ?? 0);
    const ok =
      Number.isInteger(r.uses) &&
      Number.isInteger(r.B) &&
      Number.isInteger(r.T) &&
      n > 0 &&
      typeof r.score === 'number' &&
      typeof r.kl === 'number' &&
      ROLLOUT_ARRAYS.every((k) => Array.isArray(r[k]) && r[k].length === n && r[k].every(Number.isFinite));
    if (!ok) return; // not from this version of GPT Lab: the next batch samples a fresh rollout
    this.cached = {
      uses: r.uses!,
      rollout: {
        B: r.B!,
        T: r.T!,
        score: r.score!,
        kl: r.kl!,
        x: Int32Array.from(r.x!),
        y: Int32Array.from(r.y!),
        mask: Float32Array.from(r.mask!),
        oldLogp: Float32Array.from(r.oldLogp!),
        advantages: Float32Array.from(r.advantages!),
        returns: Float32Array.from(r.returns!),
      },
    };
  }
}

const ROLLOUT_ARRAYS = ['x', 'y', 'mask', 'oldLogp', 'advantages', 'returns'] as const;

/** A rollout in state.json: its arrays as plain numbers (float32 values round-trip exactly through JSON). */
type SavedRollout = { uses: number; B: number; T: number; score: number; kl: number } & Record<
  (typeof ROLLOUT_ARRAYS)[number],
  number[]
>;

/** Advantages to zero mean and unit variance over the response tokens (a standard PPO stabiliser). */
function whiten(a: Float32Array, mask: Float32Array): void {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    if (!mask[i]) continue;
    sum += a[i];
    n++;
  }
  if (n < 2) return;
  const mu = sum / n;
  let v = 0;
  for (let i = 0; i < a.length; i++) if (mask[i]) v += (a[i] - mu) ** 2;
  const sd = Math.sqrt(v / n) + 1e-8;
  for (let i = 0; i < a.length; i++) a[i] = mask[i] ? (a[i] - mu) / sd : 0;
}

/** A reward model as a scorer: its score of prompt + response + end-of-text. */
export function rewardModelScorer(rm: GPT, tok: Tokenizer): Scorer {
  const eot = tok.specials.endOfText;
  const ctx = rm.config.contextLength;
  return (rows) =>
    scoreSequences(
      rm,
      rows.map((r) => {
        const ids = [...r.prompt, ...r.response];
        if (ids[ids.length - 1] !== eot) ids.push(eot);
        return ids.slice(-ctx);
      }),
      eot,
    );
}
