import * as path from 'node:path';
import { GptLabError } from '../errors';
import { GPT } from '../model/gpt';
import { loadModel, LoadedModel, ModelFolderConfig } from '../model/persist';
import { Rng } from '../rng';
import type { Lineage } from '../versions';
import { TrainConfig, validateTrainConfig } from './config';
import { EvalResult, loadResumable, LoopResult, readTensors, ResumePoint, trainLoop, TrainHooks } from './loop';
import type { TrainTask } from './task';

/** Held out: a fifth of the examples (at most 64), when there are at least 5. */
export function splitExamples<T>(examples: T[], seed: number): { train: T[]; val: T[]; heldOut: boolean } {
  if (examples.length < 5) return { train: examples, val: examples, heldOut: false };
  const order = examples.map((_, i) => i);
  const rng = new Rng(seed ^ 0x5f7);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const nVal = Math.min(64, Math.ceil(examples.length / 5));
  return {
    val: order.slice(0, nVal).map((i) => examples[i]),
    train: order.slice(nVal).map((i) => examples[i]),
    heldOut: true,
  };
}

/** A later stage's hyperparameters: the parent's, at `lrScale` × its learning rate unless one is given. */
export function stageConfig(
  parent: ModelFolderConfig,
  req: { maxSteps?: number; maxMinutes?: number; learningRate?: number; batchSize?: number; seed?: number },
  lrScale: number,
): TrainConfig {
  const p = (parent.training ?? {}) as unknown as TrainConfig;
  const lr = req.learningRate ?? lrScale * (p.learningRate ?? 1e-3);
  return validateTrainConfig({
    ...p,
    model: parent.model,
    maxSteps: req.maxSteps,
    maxMinutes: req.maxMinutes ?? (req.maxSteps === undefined ? 1 : undefined),
    learningRate: lr,
    minLearningRate: lr / 10,
    // A parent trained with Muon: its matrices' rate scales with the rest.
    ...(p.optimizer === 'muon' && { muonLearningRate: ((p.muonLearningRate ?? 0.02) * lr) / (p.learningRate ?? lr) }),
    warmupSteps: 10,
    batchSize: req.batchSize ?? Math.min(8, p.batchSize ?? 8),
    evalInterval: 25,
    checkpointInterval: 100,
    logInterval: 5,
    seed: req.seed ?? p.seed ?? 1337,
  });
}

export interface StageRequest {
  /** The version to start from (never written). */
  parentDir: string;
  /** The new version's folder, beside the parent. */
  outDir: string;
  dataFile?: string;
  maxSteps?: number;
  maxMinutes?: number;
  learningRate?: number;
  batchSize?: number;
  seed?: number;
  resume?: boolean;
  hooks?: TrainHooks;
}

export interface StageResult extends Omit<LoopResult, 'metrics'> {
  metrics: EvalResult;
  trainCount: number;
  heldOutCount: number;
  heldOut: boolean;
}

export interface StageStart {
  parent: LoadedModel;
  model: GPT;
  cfg: TrainConfig;
  resume?: ResumePoint;
  lineage: Lineage;
}

/**
 * What every later stage does around its task: load the parent, copy it (or the version being resumed),
 * record the lineage, run the task on the loop into a new version, free everything.
 */
export async function runStage<R>(
  req: StageRequest,
  opts: { lrScale: number; parentTrainable?: boolean },
  build: (s: StageStart, extra: Partial<ModelFolderConfig>) => { task: TrainTask<unknown>; counts: R },
  after?: (s: StageStart, loop: LoopResult) => Promise<void>,
): Promise<{ loop: LoopResult; counts: R }> {
  if (path.resolve(req.parentDir) === path.resolve(req.outDir)) {
    throw new GptLabError(
      'A stage writes a new version beside its parent: choose another output folder.',
      'SAME_FOLDER',
    );
  }
  const parent = await loadModel(req.parentDir, { trainable: opts.parentTrainable ?? false });
  let model: GPT | undefined;
  let task: TrainTask<unknown> | undefined;
  try {
    let start: StageStart;
    if (req.resume) {
      const folder = await loadResumable(req.outDir);
      model = new GPT(folder.config.model, folder.weights, { heads: folder.config.heads });
      start = {
        parent,
        model,
        cfg: {
          ...(folder.config.training as unknown as TrainConfig),
          maxSteps: req.maxSteps,
          maxMinutes: req.maxMinutes,
        },
        resume: folder.resume,
        lineage: (folder.config.lineage ?? {}) as Lineage,
      };
    } else {
      // Read asynchronously: webgpu cannot read synchronously in Node.
      model = new GPT(parent.config.model, await readTensors(parent.model.params), { heads: parent.config.heads });
      start = {
        parent,
        model,
        cfg: stageConfig(parent.config, req, opts.lrScale),
        lineage: {
          parent: {
            name: path.basename(req.parentDir),
            dir: path.resolve(req.parentDir),
            step: parent.checkpoint.step,
          },
        },
      };
    }
    const extra: Partial<ModelFolderConfig> = {
      corpus: parent.config.corpus,
      lineage: start.lineage as Record<string, unknown>,
    };
    const built = build(start, extra);
    task = built.task;
    const loop = await trainLoop({
      task,
      config: start.cfg,
      outDir: req.outDir,
      resume: start.resume,
      hooks: req.hooks,
    });
    await after?.(start, loop);
    return { loop, counts: built.counts };
  } finally {
    task?.dispose?.();
    model?.dispose();
    parent.model.dispose();
  }
}
