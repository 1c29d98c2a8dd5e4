import * as tf from '@tensorflow/tfjs-core';
import type { Preference } from '../data/preferences';
import type { GPT } from '../model/gpt';
import type { ModelFolderConfig } from '../model/persist';
import type { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';
import { drawPairs, EncodedPair, encodePairs, pairBatch, PairBatch, SCORE_HEAD, sequenceScores } from './pairs';
import { readScalars } from './readAsync';
import type { EvalMetrics, TaskLoss, TrainTask } from './task';

/** Gives a model the reward head (small random weights, so pairs start apart but near 0) unless it has one. */
export function ensureScoreHead(model: GPT, rng: Rng): void {
  if (model.params.has(SCORE_HEAD)) return;
  const C = model.config.nEmbd;
  model.addHead(
    { name: SCORE_HEAD, shape: [C, 1] },
    Float32Array.from({ length: C }, () => rng.normal() * 0.02),
  );
}

/** Pairwise (Bradley–Terry) loss −log σ(r_chosen − r_rejected) and the metrics users know: accuracy and margin. */
export function pairwiseLoss(
  scores: tf.Tensor1D,
  B: number,
): { loss: tf.Scalar; accuracy: tf.Scalar; margin: tf.Scalar } {
  const diff = tf.sub(tf.slice(scores, [0], [B]), tf.slice(scores, [B], [B])); // r_chosen − r_rejected, [B]
  return {
    loss: tf.mean(tf.softplus(tf.neg(diff))) as tf.Scalar, // −log σ(d); tf.logSigmoid's gradient fails on wasm
    accuracy: tf.mean(tf.cast(tf.greater(diff, 0), 'float32')) as tf.Scalar,
    margin: tf.mean(diff) as tf.Scalar,
  };
}

/** Stage 3a: a reward model — the backbone plus a scalar head on the last token, trained on ranked pairs. */
export class RewardTask implements TrainTask<PairBatch> {
  readonly stage = 'reward';
  private readonly train: EncodedPair[];
  private readonly val: EncodedPair[];

  constructor(
    readonly model: GPT,
    readonly tokenizer: Tokenizer,
    trainPairs: Preference[],
    valPairs: Preference[],
    private readonly batchSize: number,
    private readonly extra: Partial<ModelFolderConfig> = {},
  ) {
    this.train = encodePairs(tokenizer, trainPairs, model.config.contextLength);
    this.val = encodePairs(tokenizer, valPairs, model.config.contextLength);
  }

  nextBatch(rng: Rng): PairBatch {
    return pairBatch(this.train, drawPairs(this.train.length, this.batchSize, rng), this.tokenizer.specials.endOfText);
  }

  batchTokens(b: PairBatch): number {
    return b.rows.B * b.full.T;
  }

  loss(b: PairBatch): TaskLoss {
    const B = b.index.length;
    const { loss, accuracy, margin } = pairwiseLoss(sequenceScores(this.model, b.full, 2 * B), B);
    return { loss, metrics: { accuracy, margin } };
  }

  async evaluate(): Promise<EvalMetrics> {
    let loss = 0;
    let accuracy = 0;
    let margin = 0;
    const n = this.val.length;
    for (let i = 0; i < n; i += this.batchSize) {
      const index = Array.from({ length: Math.min(this.batchSize, n - i) }, (_, k) => i + k);
      const b = pairBatch(this.val, index, this.tokenizer.specials.endOfText);
      const r = await readScalars(
        tf.tidy(() => {
          const m = pairwiseLoss(sequenceScores(this.model, b.full, 2 * index.length), index.length);
          return [m.loss, m.accuracy, m.margin];
        }),
      );
      loss += r[0] * index.length;
      accuracy += r[1] * index.length;
      margin += r[2] * index.length;
    }
    return n
      ? { valLoss: loss / n, accuracy: accuracy / n, margin: margin / n }
      : { valLoss: NaN, accuracy: NaN, margin: NaN };
  }

  folderConfig(): Partial<ModelFolderConfig> {
    return this.extra;
  }
}
