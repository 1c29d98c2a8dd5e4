import type * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../model/gpt';
import type { ModelFolderConfig } from '../model/persist';
import type { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';

/** Held-out metrics of a task; `valLoss` is what every curve and result shows, the rest are the stage's own. */
export type EvalMetrics = { valLoss: number } & Record<string, number>;

/** What a task's loss function returns: the scalar to minimise and metrics read as numbers after the step. */
export interface TaskLoss {
  loss: tf.Scalar;
  metrics?: Record<string, tf.Scalar>;
}

/**
 * One stage of training (pre-training, SFT, reward model, DPO, PPO) as the loop in loop.ts sees it: how to draw
 * a batch, the loss of a batch, which parameters train. The loop owns everything else — budget, schedule,
 * clipping, cancellation, progress, validation, history and checkpoints with exact resume.
 */
export interface TrainTask<B = unknown> {
  /** 'pretrain', 'sft', … — recorded in config.json and history. */
  readonly stage: string;
  /** The model that trains and is saved (heads included). */
  readonly model: GPT;
  readonly tokenizer: Tokenizer;
  /** Parameters the optimizer updates (default: all of `model`'s). A frozen reference is never among them. */
  readonly trainable?: Map<string, tf.Variable>;
  /**
   * Draws the next training batch; all randomness comes from `rng` (saved in checkpoints), drawn before any await.
   * A promise where the batch needs tensors read first (PPO's rollouts, DPO's reference log-probabilities).
   */
  nextBatch(rng: Rng): B | Promise<B>;
  /** Tokens a batch holds, for throughput. */
  batchTokens(batch: B): number;
  /** The loss of a batch, built inside the gradient tape. */
  loss(batch: B): TaskLoss;
  /** Held-out metrics, without gradients (a promise where it reads tensors asynchronously: webgpu). */
  evaluate(): EvalMetrics | Promise<EvalMetrics>;
  /** What config.json records beside the model: corpus, lineage, data. */
  folderConfig(): Partial<ModelFolderConfig>;
  /**
   * State besides the rng that the next batches depend on (PPO's rollout in use for its later epochs), as JSON:
   * checkpoints carry it so a resumed run draws the batches an uninterrupted one would.
   */
  saveState?(): Record<string, unknown>;
  restoreState?(state: Record<string, unknown>): void;
  /** Frees what the task holds besides `model` (a reference model, datasets). */
  dispose?(): void;
}
