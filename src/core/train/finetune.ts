import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../checkpoint';
import type { SftExample } from '../data/examples';
import { GptLabError } from '../errors';
import { GPT } from '../model/gpt';
import { loadModel, ModelFolderConfig } from '../model/persist';
import { Rng } from '../rng';
import type { Lineage } from '../versions';
import { compareOnExamples, Comparison } from './compare';
import { TrainConfig, validateTrainConfig } from './config';
import { EvalResult, loadResumable, LoopResult, ResumePoint, trainLoop, TrainHooks } from './loop';
import { corpusDataset, CorpusFile } from './pretrainTask';
import { SftTask } from './sftTask';

export const SFT_COMPARE_FILE = 'sft-compare.json';

export interface FinetuneRequest {
  /** The version to fine-tune (it is never written). */
  parentDir: string;
  /** The new version's folder, beside the parent. */
  outDir: string;
  examples: SftExample[];
  /** Recorded in the lineage. */
  dataFile?: string;
  maxSteps?: number;
  maxMinutes?: number;
  /** Default: 0.3 × the parent's peak learning rate. */
  learningRate?: number;
  batchSize?: number;
  seed?: number;
  /** Pre-training files to mix in, so the model keeps the repository. */
  corpusFiles?: CorpusFile[];
  /** Share of rows from the corpus (default 0.2 when files are given). */
  mixShare?: number;
  /** Continue outDir's fine-tuning. */
  resume?: boolean;
  hooks?: TrainHooks;
}

export interface FinetuneResult extends Omit<LoopResult, 'metrics'> {
  metrics: EvalResult;
  trainExamples: number;
  heldOutExamples: number;
  /** false when there were too few examples to hold any out (metrics are then on the training examples). */
  heldOut: boolean;
  /** The before/after table (not made for a stopped run). */
  comparison?: Comparison;
}

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
    warmupSteps: 10,
    batchSize: req.batchSize ?? Math.min(8, p.batchSize ?? 8),
    evalInterval: 25,
    checkpointInterval: 100,
    logInterval: 5,
    seed: req.seed ?? p.seed ?? 1337,
  });
}

/** Stage 2: a new version fine-tuned on prompt → completion examples, with a before/after table. */
export async function finetune(req: FinetuneRequest): Promise<FinetuneResult> {
  const log = (m: string) => req.hooks?.onLog?.(m);
  if (path.resolve(req.parentDir) === path.resolve(req.outDir)) {
    throw new GptLabError(
      'Fine-tuning writes a new version beside its parent: choose another output folder.',
      'SAME_FOLDER',
    );
  }
  if (req.examples.length === 0) {
    throw new GptLabError(
      'There are no examples to fine-tune on. Add some (GPT Lab: Add Example) or import a JSONL file.',
      'NO_EXAMPLES',
    );
  }
  const parent = await loadModel(req.parentDir);
  let model: GPT | undefined;
  let resume: ResumePoint | undefined;
  let lineage: Lineage;
  let cfg: TrainConfig;
  try {
    if (req.resume) {
      const folder = await loadResumable(req.outDir);
      model = new GPT(folder.config.model, folder.weights, { heads: folder.config.heads });
      resume = folder.resume;
      lineage = (folder.config.lineage ?? {}) as Lineage;
      cfg = {
        ...(folder.config.training as unknown as TrainConfig),
        maxSteps: req.maxSteps,
        maxMinutes: req.maxMinutes,
      };
    } else {
      model = new GPT(parent.config.model, parent.model.weights(), { heads: parent.config.heads });
      cfg = stageConfig(parent.config, req, 0.3);
      lineage = {
        parent: { name: path.basename(req.parentDir), dir: path.resolve(req.parentDir), step: parent.checkpoint.step },
      };
    }
    const split = splitExamples(req.examples, cfg.seed);
    lineage.data = {
      ...(req.dataFile ? { file: req.dataFile } : {}),
      examples: req.examples.length,
      heldOut: split.heldOut ? split.val.length : 0,
    };
    log(
      split.heldOut
        ? `examples: ${split.train.length} to train on, ${split.val.length} held out`
        : `examples: ${req.examples.length} — too few to hold any out, so the metrics are on the training examples`,
    );
    const mixShare = req.corpusFiles?.length ? (req.mixShare ?? 0.2) : 0;
    const corpus = mixShare > 0 ? corpusDataset(parent.tokenizer, req.corpusFiles!, cfg).data.train : undefined;
    if (corpus) log(`mixing ${(mixShare * 100).toFixed(0)}% pre-training rows from ${req.corpusFiles!.length} files`);
    const extra: Partial<ModelFolderConfig> = {
      corpus: parent.config.corpus,
      lineage: lineage as Record<string, unknown>,
    };
    const task = new SftTask(
      model,
      parent.tokenizer,
      split.train,
      split.val,
      { batchSize: cfg.batchSize, mixShare, corpus },
      extra,
    );
    const r = await trainLoop({ task, config: cfg, outDir: req.outDir, resume, hooks: req.hooks });
    let comparison: Comparison | undefined;
    if (r.stopped === 'budget') {
      log('comparing the parent and the new version on the held-out examples…');
      comparison = await compareOnExamples(parent.model, model, parent.tokenizer, split.val);
      await writeFileAtomic(path.join(req.outDir, SFT_COMPARE_FILE), JSON.stringify(comparison, null, 1));
    }
    return {
      ...r,
      trainExamples: split.train.length,
      heldOutExamples: split.heldOut ? split.val.length : 0,
      heldOut: split.heldOut,
      comparison,
    };
  } finally {
    parent.model.dispose();
    model?.dispose();
  }
}

/** The before/after table saved beside a fine-tuned version, if any. */
export async function readComparison(dir: string): Promise<Comparison | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, SFT_COMPARE_FILE), 'utf8')) as Comparison;
  } catch {
    return undefined;
  }
}
