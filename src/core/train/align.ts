import * as path from 'node:path';
import type { Preference } from '../data/preferences';
import { GptLabError } from '../errors';
import { GPT } from '../model/gpt';
import { loadModel, LoadedModel, ModelFolderConfig } from '../model/persist';
import { Rng } from '../rng';
import type { Lineage } from '../versions';
import { TrainConfig } from './config';
import { DpoTask } from './dpoTask';
import { splitExamples, stageConfig } from './finetune';
import { EvalResult, loadResumable, LoopResult, ResumePoint, trainLoop, TrainHooks } from './loop';
import { ensureScoreHead, RewardTask } from './rewardTask';
import type { TrainTask } from './task';

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

export interface PairsRequest extends StageRequest {
  pairs: Preference[];
}

export interface StageResult extends Omit<LoopResult, 'metrics'> {
  metrics: EvalResult;
  trainCount: number;
  heldOutCount: number;
  heldOut: boolean;
}

interface StageStart {
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
      model = new GPT(parent.config.model, parent.model.weights(), { heads: parent.config.heads });
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
    return { loop, counts: built.counts };
  } finally {
    task?.dispose?.();
    model?.dispose();
    parent.model.dispose();
  }
}

function splitPairs(req: PairsRequest, s: StageStart) {
  if (req.pairs.length === 0) {
    throw new GptLabError(
      'There are no preference pairs. Rank some completions (GPT Lab: Rank Completions) or import a JSONL file.',
      'NO_PAIRS',
    );
  }
  const split = splitExamples(req.pairs, s.cfg.seed);
  s.lineage.data = {
    ...(req.dataFile ? { file: req.dataFile } : {}),
    pairs: req.pairs.length,
    heldOut: split.heldOut ? split.val.length : 0,
  };
  req.hooks?.onLog?.(
    split.heldOut
      ? `pairs: ${split.train.length} to train on, ${split.val.length} held out`
      : `pairs: ${req.pairs.length} — too few to hold any out, so the metrics are on the training pairs`,
  );
  return split;
}

function result(loop: LoopResult, split: { train: unknown[]; val: unknown[]; heldOut: boolean }): StageResult {
  return {
    ...loop,
    trainCount: split.train.length,
    heldOutCount: split.heldOut ? split.val.length : 0,
    heldOut: split.heldOut,
  };
}

/** Stage 3a: a reward model from ranked pairs (the parent's backbone plus a scalar head). */
export async function trainRewardModel(req: PairsRequest): Promise<StageResult> {
  const { loop, counts } = await runStage(req, { lrScale: 0.3 }, (s, extra) => {
    ensureScoreHead(s.model, new Rng(s.cfg.seed ^ 0x5c0e));
    const split = splitPairs(req, s);
    return {
      task: new RewardTask(s.model, s.parent.tokenizer, split.train, split.val, s.cfg.batchSize, extra),
      counts: split,
    };
  });
  return result(loop, counts);
}

export interface DpoRequest extends PairsRequest {
  /** How far the policy may move from the reference (TRL's default 0.1). */
  beta?: number;
}

/** Stage 3b: DPO straight from the pairs, the parent frozen as the reference. */
export async function trainDpo(req: DpoRequest): Promise<StageResult> {
  const { loop, counts } = await runStage(req, { lrScale: 0.1 }, (s, extra) => {
    const split = splitPairs(req, s);
    const beta = req.beta ?? 0.1;
    s.lineage.data = { ...s.lineage.data, beta };
    const task = new DpoTask(
      s.model,
      s.parent.model,
      s.parent.tokenizer,
      split.train,
      split.val,
      { batchSize: s.cfg.batchSize, beta },
      extra,
    );
    return { task, counts: split };
  });
  return result(loop, counts);
}
