import type * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../../model/gpt';
import type { TrainConfig } from '../config';
import type { Batch } from '../data';
import { optimizerStep } from '../loop';
import type { Optimizer } from '../muon';
import { pretrainLoss } from '../pretrainTask';
import type { TrainTask } from '../task';
import type { DataParallel, DataParallelStep } from './dataParallel';
import { ReplicaPool } from './pool';
import { warmsUp, warmUp } from './warmup';

/** Keep replicas only when their step is at least this much faster than one thread's. */
const MIN_GAIN = 1.05;

/**
 * Whether measured steps favour the replicas: medians, the first step of each kind left out (warm-up), and a
 * margin so that noise does not choose the slower one.
 */
export function replicasWin(singleMs: number[], parallelMs: number[]): boolean {
  return afterWarmup(parallelMs) * MIN_GAIN < afterWarmup(singleMs);
}

/** The median step time without the first step. */
function afterWarmup(xs: number[]): number {
  const s = xs.slice(1).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

/**
 * 'auto' data parallelism that never slows a run down: a few steps on one thread, then a few on `max` replicas
 * (started from the weights and optimizer state reached by then), and it keeps whichever stepped faster. A busy
 * machine does not give each replica a core, and a small model's step is mostly overhead every replica pays.
 * Switching costs nothing in results: replica 0 is the loop's own model, whatever runs beside it.
 */
export class AdaptiveReplicas implements DataParallel<Batch> {
  private pool?: ReplicaPool;
  private model?: GPT;
  private params?: Map<string, tf.Variable>;
  private opt?: Optimizer;
  private readonly singleMs: number[] = [];
  private readonly parallelMs: number[] = [];
  private decided = false;

  constructor(
    private readonly max: number,
    private readonly cfg: TrainConfig,
    private readonly log: (message: string) => void = () => undefined,
    private readonly probeSteps = 4,
  ) {}

  get replicas(): number {
    return this.pool ? this.max : 1;
  }

  async start(model: GPT, params: Map<string, tf.Variable>, opt: Optimizer): Promise<void> {
    this.model = model;
    this.params = params;
    this.opt = opt;
    this.log(`data parallel: timing ${this.probeSteps} steps on one thread against ${this.max} replicas`);
    // Both sides of the comparison on warm code: this thread now, the workers when they start (warmup.ts).
    const rows = this.cfg.batchSize;
    if (warmsUp(model.config, Math.ceil(rows / this.max))) {
      warmUp((b) => pretrainLoss(model, b, this.cfg.dropout), rows, this.cfg.model.contextLength);
    }
  }

  async step(task: TrainTask<Batch>, batch: Batch, lr: number, clip: number): Promise<DataParallelStep> {
    const t0 = performance.now();
    if (!this.pool) {
      const r = optimizerStep(task, this.opt!, batch, lr, clip);
      if (!this.decided) this.singleMs.push(performance.now() - t0);
      if (!this.decided && this.singleMs.length > this.probeSteps) await this.startPool();
      return r;
    }
    const r = await this.pool.step(task, batch, lr, clip);
    if (!this.decided) {
      this.parallelMs.push(performance.now() - t0);
      if (this.parallelMs.length > this.probeSteps) await this.decide();
    }
    return r;
  }

  private async startPool(): Promise<void> {
    const pool = new ReplicaPool(this.max, this.cfg, { warmup: 'workers' });
    try {
      await pool.start(this.model!, this.params!, this.opt!);
      this.pool = pool;
    } catch (err) {
      await pool.dispose();
      this.decided = true;
      this.log(`data parallel unavailable (${(err as Error).message}); training on one thread`);
    }
  }

  private async decide(): Promise<void> {
    this.decided = true;
    const ms = (xs: number[]) => `${Math.round(afterWarmup(xs))} ms`;
    const figures = `${this.max} replicas took ${ms(this.parallelMs)} a step, one thread ${ms(this.singleMs)}`;
    if (replicasWin(this.singleMs, this.parallelMs)) {
      this.log(`data parallel: keeping ${this.max} replicas (${figures})`);
      return;
    }
    this.log(`data parallel: one thread is as fast here (${figures}); training on one thread`);
    await this.pool?.dispose();
    this.pool = undefined;
  }

  async dispose(): Promise<void> {
    await this.pool?.dispose();
    this.pool = undefined;
  }
}
