import * as tf from '@tensorflow/tfjs-core';
import { GptLabError } from '../errors';
import { GPT } from '../model/gpt';
import { ModelFolderConfig } from '../model/persist';
import { Tokenizer, trainTokenizer } from '../tokenizer';
import { AdamW } from './adamw';
import { TrainConfig, validateTrainConfig } from './config';
import { Batch } from './data';
import {
  BudgetKind,
  EvalResult,
  loadResumable,
  optimizerStepAsync,
  ResumePoint,
  trainLoop,
  TrainHooks,
  TrainProgress,
} from './loop';
import { corpusDataset, CorpusFile, meanLoss, PretrainTask } from './pretrainTask';
import { splitByFile } from '../corpus';
import { AdaptiveReplicas } from './parallel/adaptive';
import { ReplicaPool } from './parallel/pool';
import { replicaCount, ReplicaRequest, replicasFromEnv } from './parallel/replicas';

export type { EvalResult, TrainHooks, TrainProgress };
export { meanLoss };

export interface TrainRequest {
  files: CorpusFile[];
  config: TrainConfig;
  /** The model folder: checkpoints and history.jsonl go here. */
  outDir?: string;
  /**
   * Continue from outDir's checkpoint. The model and data options are the checkpoint's; a budget in `config`
   * trains that much more (without one, the saved run finishes its own budget).
   */
  resume?: boolean;
  /** What may change on resume. */
  resumeOverrides?: { learningRate?: number };
  hooks?: TrainHooks;
  /** Stored in config.json for Model Info. */
  corpusSummary?: Record<string, unknown>;
  /**
   * Data-parallel replicas (worker threads): 'auto' (one per core where it pays) or at most N. Default: the
   * environment's GPT_LAB_REPLICAS (how the extension's setting reaches its worker), else 1.
   */
  replicas?: ReplicaRequest;
}

export interface TrainResult {
  step: number;
  stopped: 'budget' | 'cancelled';
  /** With stopped 'budget': the budget that ran out first ('passes': the cap that keeps a small corpus unmemorised). */
  endedBy?: BudgetKind;
  /** Passes over the training tokens since the run began. */
  passes?: number;
  loss: number;
  initialValLoss: number;
  valLoss: number;
  valBpb: number;
  tokensSeen: number;
  elapsedMs: number;
  /** Training loss of every step this call ran. */
  losses: number[];
  vocabSize: number;
}

/** Stage 1, next-token pre-training: tokenizer (unless resuming) and model, then the pre-training task on the loop. */
export async function pretrain(req: TrainRequest): Promise<TrainResult> {
  const log = (m: string) => req.hooks?.onLog?.(m);
  if (req.files.length === 0) {
    throw new GptLabError('No files to train on. Point GPT Lab at a folder with source code.', 'EMPTY_CORPUS');
  }
  const start = req.resume ? await resumeStart(req) : startFresh(req, log);
  const { cfg, tokenizer, model } = start;
  try {
    const { data, trainFiles, valFiles } = corpusDataset(tokenizer, req.files, cfg);
    log(
      `data: ${data.train.length} training tokens, ${data.val.length} validation tokens (${trainFiles}/${valFiles} files)`,
    );
    if (start.resume) log(`resuming from step ${start.resume.step}`);
    const extra: Partial<ModelFolderConfig> = { corpus: req.corpusSummary ?? start.corpus };
    const task = new PretrainTask(model, tokenizer, data, cfg, extra);
    const asked = req.replicas ?? replicasFromEnv(process.env.GPT_LAB_REPLICAS);
    const replicas = replicaCount(cfg, asked);
    // 'auto' measures both ways first and keeps the faster; a number the user gave is what runs.
    const parallel =
      replicas <= 1
        ? undefined
        : asked === 'auto'
          ? new AdaptiveReplicas(replicas, cfg, log)
          : new ReplicaPool(replicas, cfg);
    const r = await trainLoop({
      task,
      config: cfg,
      outDir: req.outDir,
      resume: start.resume,
      hooks: req.hooks,
      parallel,
      trainTokens: data.train.length,
    });
    return {
      step: r.step,
      stopped: r.stopped,
      ...(r.endedBy && { endedBy: r.endedBy }),
      ...(r.passes !== undefined && { passes: r.passes }),
      loss: r.loss,
      initialValLoss: r.initialValLoss,
      valLoss: r.valLoss,
      valBpb: r.metrics.valBpb ?? NaN,
      tokensSeen: r.tokensSeen,
      elapsedMs: r.elapsedMs,
      losses: r.losses,
      vocabSize: tokenizer.vocabSize,
    };
  } finally {
    model.dispose();
  }
}

interface Start {
  cfg: TrainConfig;
  tokenizer: Tokenizer;
  model: GPT;
  resume?: ResumePoint;
  corpus?: Record<string, unknown>;
}

function startFresh(req: TrainRequest, log: (m: string) => void): Start {
  const cfg = validateTrainConfig({ ...req.config, model: { ...req.config.model } });
  const { train } = splitByFile(req.files, cfg.valFraction, cfg.splitSeed ?? cfg.seed);
  const t0 = performance.now();
  const docs = sampleDocs(
    train.map((f) => f.bytes),
    cfg.tokenizerSampleBytes,
  );
  const tokenizer = trainTokenizer(docs, { vocabSize: cfg.model.vocabSize });
  log(`tokenizer: ${tokenizer.vocabSize} tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // A small corpus may support fewer merges than asked; the model's vocabulary follows the tokenizer's.
  cfg.model.vocabSize = tokenizer.vocabSize;
  return { cfg, tokenizer, model: GPT.create(cfg.model, cfg.seed) };
}

async function resumeStart(req: TrainRequest): Promise<Start> {
  const folder = await loadResumable(req.outDir);
  const saved = (folder.config.training ?? {}) as unknown as TrainConfig;
  const lr = req.resumeOverrides?.learningRate;
  const cfg: TrainConfig = {
    ...saved,
    model: folder.config.model,
    maxSteps: req.config.maxSteps,
    maxMinutes: req.config.maxMinutes,
    maxCpuMinutes: req.config.maxCpuMinutes,
    // A cap given now counts the passes since the run began; without a budget the saved run keeps its own.
    maxPasses: req.config.maxPasses,
    ...(lr !== undefined && { learningRate: lr, minLearningRate: lr / 10 }),
  };
  const model = new GPT(folder.config.model, folder.weights, { heads: folder.config.heads });
  return { cfg, tokenizer: folder.tokenizer, model, resume: folder.resume, corpus: folder.config.corpus };
}

/** One optimizer step of next-token loss on a batch (benchmarks and tests); disposes all it makes. */
export function trainStep(
  model: GPT,
  opt: AdamW,
  batch: Batch,
  lr: number,
  clip: number,
): { loss: number; gradNorm: number } {
  const x = tf.tensor2d(batch.x, [batch.B, batch.T], 'int32');
  const y = tf.tensor2d(batch.y, [batch.B, batch.T], 'int32');
  const { value, grads } = tf.variableGrads(() => model.loss(x, y));
  const norm = opt.step(grads, lr, clip);
  const loss = value.dataSync()[0];
  const gradNorm = norm.dataSync()[0];
  tf.dispose([x, y, value, norm, ...Object.values(grads)]);
  return { loss, gradNorm };
}

/** trainStep read with `await data()`, as the loop reads (webgpu in Node reads no other way): the loop's own step. */
export function trainStepAsync(
  model: GPT,
  opt: AdamW,
  batch: Batch,
  lr: number,
  clip: number,
): Promise<{ loss: number; gradNorm: number }> {
  const loss = (b: Batch) => ({
    loss: model.loss(tf.tensor2d(b.x, [b.B, b.T], 'int32'), tf.tensor2d(b.y, [b.B, b.T], 'int32')),
  });
  return optimizerStepAsync({ loss }, opt, batch, lr, clip);
}

/** Documents up to a byte budget, taken evenly across the list so every part of the corpus is represented. */
function sampleDocs(docs: Uint8Array[], maxBytes: number): Uint8Array[] {
  const total = docs.reduce((n, d) => n + d.length, 0);
  if (total <= maxBytes) return docs;
  const keepEvery = total / maxBytes;
  const out: Uint8Array[] = [];
  let acc = 0;
  docs.forEach((d, i) => {
    if (i >= acc) {
      out.push(d);
      acc += keepEvery;
    }
  });
  return out;
}
