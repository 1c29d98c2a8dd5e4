import type * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../../model/gpt';
import type { Optimizer } from '../muon';
import type { TrainTask } from '../task';

/**
 * What the training loop asks of data parallelism: start replicas from its model and optimizer, then run each
 * optimizer step across them. The loop's thread is replica 0: its model and optimizer are the ones evaluated and
 * saved, so checkpoints do not depend on the replica count and resume under any.
 */
export interface DataParallel<B> {
  readonly replicas: number;
  start(model: GPT, params: Map<string, tf.Variable>, opt: Optimizer): Promise<void>;
  step(task: TrainTask<B>, batch: B, lr: number, clip: number): Promise<DataParallelStep>;
  dispose(): Promise<void>;
}

export interface DataParallelStep {
  loss: number;
  gradNorm: number;
  /** Milliseconds from replica 0's gradient being ready to the averaged gradient being ready (absent: one thread). */
  allReduceMs?: number;
}
