import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../data';
import type { Optimizer } from '../muon';
import type { GradientLayout } from './gradients';
import { MARK, StepMarks } from './profile';
import { CTL, shardRows, shardWeights, SharedStep } from './shared';

/** One replica's part of a data-parallel step, the same code on the loop's thread and in each worker thread. */
export interface ReplicaContext {
  rank: number;
  shared: SharedStep;
  layout: GradientLayout;
  opt: Optimizer;
  /** This replica's own buffer for the averaged gradient (gradSize floats). */
  reduced: Float32Array;
  /** The loss of this replica's rows of the batch, built inside the gradient tape. */
  loss(shard: Batch): tf.Scalar;
  /** Phase marks (bench --profile); the caller begins each step, this marks the rest. */
  marks?: StepMarks;
}

export interface ReplicaStepResult {
  /** The whole batch's loss: the token-weighted mean of the replicas' losses. */
  loss: number;
  gradNorm: number;
  /** Time from this replica's gradient being ready to the averaged one being ready (waiting included). */
  allReduceMs: number;
}

type Barrier = () => void | Promise<void>;

/**
 * Gradients of this replica's rows, all-reduced through shared memory (each writes its slot, waits for the others
 * at one barrier, then sums every slot in the same order), then the same optimizer step on every replica: the
 * replicas start equal and apply equal updates, so their weights stay equal without a broadcast.
 */
export async function replicaStep(c: ReplicaContext, barrier: Barrier): Promise<ReplicaStepResult> {
  const { shared, rank, marks } = c;
  const R = shared.layout.replicas;
  // Everything replica 0 wrote for this step is read now: after the barrier it may already write the next one's.
  const rows = shared.ctl[CTL.rows];
  const cols = shared.ctl[CTL.cols];
  const parity = shared.ctl[CTL.parity];
  const { lr, clip } = shared;
  const { start, end } = shardRows(rows, R, rank);
  const shard: Batch = {
    x: shared.x.slice(start * cols, end * cols),
    y: shared.y.slice(start * cols, end * cols),
    B: end - start,
    T: cols,
    // The whole batch's masks, row for row: a shard drops what the same rows would on one thread.
    dropoutSeed: shared.ctl[CTL.dropoutSeed] >>> 0,
    firstRow: start,
  };
  marks?.mark(MARK.start);
  const { value, grads } = tf.variableGrads(() => c.loss(shard));
  marks?.mark(MARK.grads);
  shared.setLoss(parity, rank, value.dataSync()[0]);
  marks?.mark(MARK.loss);
  const t0 = performance.now();
  const present = c.layout.write(grads, shared.slots[parity][rank]);
  tf.dispose([value, ...Object.values(grads)]);
  marks?.mark(MARK.written);
  await barrier(); // every slot and loss of this step written
  marks?.mark(MARK.released);
  const weights = shardWeights(rows, R);
  let loss = 0;
  for (let r = 0; r < R; r++) loss += weights[r] * shared.loss(parity, r);
  shared.reduce(parity, weights, c.reduced);
  marks?.mark(MARK.reduced);
  const avg = c.layout.read(c.reduced, present);
  marks?.mark(MARK.read);
  const allReduceMs = performance.now() - t0;
  const norm = c.opt.step(avg, lr, clip);
  const gradNorm = norm.dataSync()[0];
  tf.dispose([norm, ...Object.values(avg)]);
  marks?.mark(MARK.stepped);
  return { loss, gradNorm, allReduceMs };
}
