import * as tf from '@tensorflow/tfjs-core';
import type { Preference } from '../data/preferences';
import type { GPT } from '../model/gpt';
import type { ModelFolderConfig } from '../model/persist';
import type { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';
import { drawPairs, EncodedPair, encodePairs, pairBatch, PairBatch, sequenceLogProbs } from './pairs';
import { readAndDispose, readScalars } from './readAsync';
import type { EvalMetrics, TaskLoss, TrainTask } from './task';

/**
 * DPO's loss (Rafailov et al., 2023) from policy and reference log-probabilities of chosen and rejected
 * responses: −log σ(β·[(π_c − ref_c) − (π_r − ref_r)]), with TRL's metrics — the implicit rewards
 * β·(π − ref) of each side, accuracy (chosen above rejected) and margin.
 */
export function dpoLoss(policy: tf.Tensor1D, reference: tf.Tensor1D, B: number, beta: number) {
  const rewards = tf.mul(tf.sub(policy, reference), beta); // [2B]
  const chosen = tf.slice(rewards, [0], [B]);
  const rejected = tf.slice(rewards, [B], [B]);
  const margin = tf.sub(chosen, rejected);
  return {
    loss: tf.mean(tf.softplus(tf.neg(margin))) as tf.Scalar, // −log σ(m)
    rewardChosen: tf.mean(chosen) as tf.Scalar,
    rewardRejected: tf.mean(rejected) as tf.Scalar,
    accuracy: tf.mean(tf.cast(tf.greater(margin, 0), 'float32')) as tf.Scalar,
    margin: tf.mean(margin) as tf.Scalar,
  };
}

/** Stage 3, straight from the pairs: Direct Preference Optimization against a frozen reference. */
export class DpoTask implements TrainTask<PairBatch> {
  readonly stage = 'dpo';
  private readonly train: EncodedPair[];
  private readonly val: EncodedPair[];
  /** The reference's log-probabilities never change: computed once per pair. */
  private readonly refCache = new Map<string, [number, number]>();

  constructor(
    readonly model: GPT,
    private readonly reference: GPT,
    readonly tokenizer: Tokenizer,
    trainPairs: Preference[],
    valPairs: Preference[],
    private readonly opts: { batchSize: number; beta: number },
    private readonly extra: Partial<ModelFolderConfig> = {},
  ) {
    this.train = encodePairs(tokenizer, trainPairs, model.config.contextLength);
    this.val = encodePairs(tokenizer, valPairs, model.config.contextLength);
  }

  async nextBatch(rng: Rng): Promise<PairBatch> {
    const b = pairBatch(this.train, drawPairs(this.train.length, this.opts.batchSize, rng), this.pad);
    await this.readReference(b, 'train');
    return b;
  }

  private get pad(): number {
    return this.tokenizer.specials.endOfText;
  }

  batchTokens(b: PairBatch): number {
    return b.rows.B * b.rows.T;
  }

  loss(b: PairBatch): TaskLoss {
    const m = this.metrics(b, 'train');
    return {
      loss: m.loss,
      metrics: {
        rewardChosen: m.rewardChosen,
        rewardRejected: m.rewardRejected,
        accuracy: m.accuracy,
        margin: m.margin,
      },
    };
  }

  private metrics(b: PairBatch, split: 'train' | 'val') {
    const B = b.index.length;
    const ref = this.referenceLogProbs(b, split);
    return dpoLoss(sequenceLogProbs(this.model, b.rows), ref, B, this.opts.beta);
  }

  /** Computes the reference's log-probabilities of pairs not yet cached, read asynchronously before the step. */
  private async readReference(b: PairBatch, split: 'train' | 'val'): Promise<void> {
    const B = b.index.length;
    if (b.index.every((i) => this.refCache.has(`${split}:${i}`))) return;
    const [lp] = await readAndDispose([tf.tidy(() => sequenceLogProbs(this.reference, b.rows))]);
    b.index.forEach((i, k) => this.refCache.set(`${split}:${i}`, [lp[k], lp[B + k]]));
  }

  private referenceLogProbs(b: PairBatch, split: 'train' | 'val'): tf.Tensor1D {
    // A batch readReference did not see computes its reference in the graph (the reference has no gradient).
    if (b.index.some((i) => !this.refCache.has(`${split}:${i}`))) return sequenceLogProbs(this.reference, b.rows);
    const pairs = b.index.map((i) => this.refCache.get(`${split}:${i}`)!);
    return tf.tensor1d([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])]);
  }

  async evaluate(): Promise<EvalMetrics> {
    const n = this.val.length;
    const sums = { valLoss: 0, rewardChosen: 0, rewardRejected: 0, accuracy: 0, margin: 0 };
    for (let i = 0; i < n; i += this.opts.batchSize) {
      const index = Array.from({ length: Math.min(this.opts.batchSize, n - i) }, (_, k) => i + k);
      const b = pairBatch(this.val, index, this.pad);
      await this.readReference(b, 'val');
      const r = await readScalars(
        tf.tidy(() => {
          const m = this.metrics(b, 'val');
          return [m.loss, m.rewardChosen, m.rewardRejected, m.accuracy, m.margin];
        }),
      );
      sums.valLoss += r[0] * index.length;
      sums.rewardChosen += r[1] * index.length;
      sums.rewardRejected += r[2] * index.length;
      sums.accuracy += r[3] * index.length;
      sums.margin += r[4] * index.length;
    }
    const out = { ...sums };
    for (const k of Object.keys(out) as (keyof typeof out)[]) out[k] = n ? out[k] / n : NaN;
    return out;
  }

  folderConfig(): Partial<ModelFolderConfig> {
    return this.extra;
  }
}
