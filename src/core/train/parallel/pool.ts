import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs-core';
import { currentBackend } from '../../backend';
import { compileKernelModules } from '../../kernels/precompiled';
import type { GPT } from '../../model/gpt';
import type { TrainConfig } from '../config';
import type { Batch } from '../data';
import type { Optimizer } from '../muon';
import { pretrainLoss } from '../pretrainTask';
import type { TrainTask } from '../task';
import type { DataParallel } from './dataParallel';
import { GradientLayout } from './gradients';
import type { ReplicaInit, ReplicaMessage } from './messages';
import { replicaStep, ReplicaStepResult } from './replicaStep';
import { PhaseSummary, StepMarks, summarize } from './profile';
import { COMMAND, CTL, ReplicaStopped, SharedStep, shardRows, STATE } from './shared';
import { warmsUp, warmUp } from './warmup';

/** The bundle puts the worker beside the code that starts it (dist/); tsc puts it beside this file (out/). */
export const REPLICA_WORKER = path.join(__dirname, 'replicaWorker.js');

type Snapshot = Extract<ReplicaMessage, { type: 'snapshot' }>;
export type ReplicaWarmup = 'all' | 'workers' | 'none';

/**
 * Data parallelism on one machine: `replicas - 1` worker threads, each with its own wasm backend, plus the loop's
 * own thread as replica 0. Each step the batch's rows are split among them, their gradients averaged through
 * shared memory, and every replica applies the same optimizer step to its own copy of the weights.
 */
export class ReplicaPool implements DataParallel<Batch> {
  private workers: Worker[] = [];
  private shared?: SharedStep;
  private layout?: GradientLayout;
  private opt?: Optimizer;
  private failure?: Error;
  private failed!: Promise<never>;
  private closing = false;
  private steps = 0;
  private reduced?: Float32Array;
  private snapshots?: (s: Snapshot, rank: number) => void;

  private marks?: StepMarks;

  private readonly profileSteps: number;
  private readonly warmup: ReplicaWarmup;

  /**
   * `profileSteps` > 0: every replica marks its phases, the last that many steps kept (see profile()).
   * `warmup`: which replicas run throwaway passes at start where the model is small (warmup.ts); default all, the
   * loop's thread meanwhile; 'workers' where the loop's thread is warm already.
   */
  constructor(
    readonly replicas: number,
    private readonly cfg: TrainConfig,
    opts: { profileSteps?: number; warmup?: ReplicaWarmup } = {},
  ) {
    this.profileSteps = opts.profileSteps ?? 0;
    this.warmup = opts.warmup ?? 'all';
  }

  /**
   * Starts the workers from the model's current weights and the optimizer's current state (a resumed run's
   * included, whatever replica count saved it). Resolves when every replica is ready.
   */
  async start(
    model: GPT,
    params: Map<string, tf.Variable>,
    opt: Optimizer,
    workerPath = REPLICA_WORKER,
  ): Promise<void> {
    this.opt = opt;
    this.layout = new GradientLayout(params);
    const layout = {
      replicas: this.replicas,
      gradSize: this.layout.size,
      maxTokens: this.cfg.batchSize * this.cfg.model.contextLength,
      profileSteps: this.profileSteps,
    };
    const shared = (this.shared = SharedStep.allocate(layout));
    this.reduced = new Float32Array(this.layout.size);
    if (shared.profile) this.marks = new StepMarks(shared.profile, 0, this.profileSteps);
    let rejectFailed!: (e: Error) => void;
    this.failed = new Promise<never>((_, reject) => (rejectFailed = reject));
    this.failed.catch(() => undefined);
    const fail = (rank: number, why: string) => {
      if (this.failure || this.closing) return;
      this.failure = new Error(`data-parallel replica ${rank} failed: ${why}`);
      shared.halt(STATE.failed);
      rejectFailed(this.failure);
    };
    const base = {
      buffer: shared.buffer,
      layout,
      backend: currentBackend()?.name ?? 'wasm',
      model: model.config,
      heads: model.heads,
      weights: model.weights(),
      train: this.cfg,
      optimizerState: opt.state(),
      optimizerStep: opt.t,
      signature: this.layout.signature(),
      // Compiled here, before any replica thread exists, and adopted there: see precompiled.ts.
      kernelModules: compileKernelModules(),
      warmup: this.warmup !== 'none' && warmsUp(model.config, Math.ceil(this.cfg.batchSize / this.replicas)),
    };
    const ready: Promise<void>[] = [];
    for (let rank = 1; rank < this.replicas; rank++) {
      // Not unref'd: while replica 0 awaits a barrier (Atomics.waitAsync), the workers keep the process alive.
      const w = new Worker(workerPath, { workerData: { ...base, rank } satisfies ReplicaInit });
      this.workers.push(w);
      ready.push(
        new Promise<void>((resolve) => {
          w.on('message', (m: ReplicaMessage) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'failed') fail(rank, m.message);
            else this.snapshots?.(m, rank);
          });
        }),
      );
      w.on('error', (err) => fail(rank, err.message));
      w.on('exit', (code) => fail(rank, `its thread exited (code ${code})`));
    }
    // While the workers start (and warm their own code), this thread warms its part of the step.
    if (base.warmup && this.warmup === 'all') {
      const { start, end } = shardRows(this.cfg.batchSize, this.replicas, 0);
      warmUp((b) => pretrainLoss(model, b, this.cfg.dropout), end - start, this.cfg.model.contextLength);
    }
    await Promise.race([Promise.all(ready), this.failed]);
  }

  /** One optimizer step over `batch`, split across the replicas; the loop's thread computes rows of its own. */
  async step(task: TrainTask<Batch>, batch: Batch, lr: number, clip: number): Promise<ReplicaStepResult> {
    const shared = this.shared!;
    this.marks?.begin();
    if (this.failure) throw this.failure;
    if (batch.B < this.replicas) throw new Error(`a batch of ${batch.B} rows cannot feed ${this.replicas} replicas`);
    shared.x.set(batch.x);
    shared.y.set(batch.y);
    shared.ctl[CTL.rows] = batch.B;
    shared.ctl[CTL.cols] = batch.T;
    shared.ctl[CTL.parity] = this.steps++ % 2;
    shared.ctl[CTL.dropoutSeed] = batch.dropoutSeed ?? 0;
    shared.setHyper(lr, clip);
    shared.start(COMMAND.step);
    const ctx = {
      rank: 0,
      shared,
      layout: this.layout!,
      opt: this.opt!,
      loss: (b: Batch) => task.loss(b).loss,
      reduced: this.reduced!,
      marks: this.marks,
    };
    try {
      return await replicaStep(ctx, () => shared.barrier());
    } catch (err) {
      // A replica halted the step: say which and why (its message arrives just after the halt).
      if (err instanceof ReplicaStopped) {
        await Promise.race([this.failed, new Promise((r) => setTimeout(r, 5000).unref())]);
        throw this.failure ?? err;
      }
      throw err;
    }
  }

  /**
   * Per-replica phase medians over the steps run so far (at most the last profileSteps), the first `skip` left
   * out (warm-up) and the last (still being marked); undefined without a profile.
   */
  profile(skip = 2): PhaseSummary | undefined {
    const region = this.shared?.profile;
    if (!region) return undefined;
    const from = Math.max(1, skip, this.steps - this.profileSteps + 1);
    // The last step's marks may still be coming (a worker in its optimizer step): up to the one before.
    return summarize(region, this.replicas, this.profileSteps, from, this.steps - 1);
  }

  /** Every worker replica's weights and optimizer step count, by rank (tests: the replicas must stay equal). */
  async snapshot(): Promise<Map<number, Snapshot>> {
    const out = new Map<number, Snapshot>();
    const all = new Promise<void>((resolve) => {
      this.snapshots = (s, rank) => {
        out.set(rank, s);
        if (out.size === this.workers.length) resolve();
      };
    });
    this.shared!.start(COMMAND.snapshot);
    await Promise.race([all, this.failed]);
    this.snapshots = undefined;
    return out;
  }

  async dispose(): Promise<void> {
    this.closing = true;
    if (this.shared) {
      this.shared.start(COMMAND.shutdown);
      this.shared.halt(STATE.shutdown);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}
