import * as tf from '@tensorflow/tfjs-core';
import {
  appendHistory,
  checkpointExists,
  loadCheckpoint,
  readHistory,
  saveCheckpoint,
  writeFileAtomic,
} from '../checkpoint';
import { splitByFile } from '../corpus';
import { GptLabError } from '../errors';
import { GPT, parameterShape } from '../model/gpt';
import { CONFIG_FORMAT, ModelFolderConfig, readModelFolder, toNamedTensors } from '../model/persist';
import { Rng, RngState } from '../rng';
import { Tokenizer, trainTokenizer } from '../tokenizer';
import { AdamW } from './adamw';
import { TrainConfig, validateTrainConfig } from './config';
import { Batch, buildDataset, sampleBatch, validationBatches } from './data';
import { learningRate } from './schedule';
import * as path from 'node:path';

export interface TrainProgress {
  step: number;
  maxSteps?: number;
  /** Share of the budget used, 0..1. */
  fraction: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  tokensSeen: number;
  elapsedMs: number;
  etaMs: number;
}

export interface EvalResult {
  step: number;
  valLoss: number;
  /** Bits per byte of held-out text: comparable across tokenizers. */
  valBpb: number;
}

export interface TrainHooks {
  onProgress?(p: TrainProgress): void;
  onEval?(e: EvalResult): void;
  onLog?(message: string): void;
  onCheckpoint?(step: number): void;
  /** Polled between steps; true stops at the step boundary and saves. */
  shouldStop?(): boolean;
}

export interface TrainRequest {
  files: { path: string; bytes: Uint8Array }[];
  config: TrainConfig;
  /** The model folder: checkpoints and history.jsonl go here. */
  outDir?: string;
  /** Continue from outDir's checkpoint (its config wins except for the budget). */
  resume?: boolean;
  hooks?: TrainHooks;
  /** Stored in config.json for Model Info. */
  corpusSummary?: Record<string, unknown>;
}

export interface TrainResult {
  step: number;
  stopped: 'budget' | 'cancelled';
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

/** What a checkpoint carries to resume exactly where it stopped. */
interface TrainerState {
  rng: RngState;
  tokensSeen: number;
  elapsedMs: number;
  optimizerStep: number;
  initialValLoss: number;
}

interface Run {
  cfg: TrainConfig;
  tokenizer: Tokenizer;
  model: GPT;
  opt: AdamW;
  step: number;
  state: TrainerState;
}

/** Next-token pre-training: tokenizer (unless resuming), model, AdamW, warm-up + cosine, validation, checkpoints. */
export async function pretrain(req: TrainRequest): Promise<TrainResult> {
  const hooks = req.hooks ?? {};
  const log = (m: string) => hooks.onLog?.(m);
  if (req.files.length === 0) {
    throw new GptLabError('No files to train on. Point GPT Lab at a folder with source code.', 'EMPTY_CORPUS');
  }
  const run = req.resume ? await resumeRun(req, log) : await startRun(req, log);
  const { cfg, tokenizer, model, opt } = run;
  try {
    const { train, val } = splitByFile(req.files, cfg.valFraction, cfg.seed);
    const data = buildDataset(
      tokenizer,
      train.map((f) => f.bytes),
      (val.length ? val : train).map((f) => f.bytes),
      { fimRate: cfg.fimRate, seed: cfg.seed, fimChunkTokens: Math.floor(cfg.model.contextLength / 2) },
    );
    const T = cfg.model.contextLength;
    if (data.train.length < T + 1) {
      throw new GptLabError(
        `The corpus is too small: ${data.train.length} training tokens, but one sequence of the context needs ${T + 1}. Add files or choose a smaller preset.`,
        'CORPUS_TOO_SMALL',
      );
    }
    log(
      `data: ${data.train.length} training tokens, ${data.val.length} validation tokens (${train.length}/${val.length} files)`,
    );
    const valBatches = validationBatches(data.val, cfg.batchSize, T, cfg.evalBatches);
    const bytesPerToken = data.valBytes / Math.max(1, data.val.length);
    const evaluate = (): EvalResult => {
      const valLoss = meanLoss(model, valBatches);
      return { step: run.step, valLoss, valBpb: valLoss / Math.LN2 / bytesPerToken };
    };

    const rng = new Rng(run.state.rng);
    const losses: number[] = [];
    let lastEval: EvalResult | undefined;
    if (run.step === 0) {
      lastEval = evaluate();
      run.state.initialValLoss = lastEval.valLoss;
      hooks.onEval?.(lastEval);
      await history(req.outDir, { step: 0, valLoss: lastEval.valLoss, valBpb: lastEval.valBpb });
    }

    const budgetMs = cfg.maxMinutes !== undefined ? cfg.maxMinutes * 60_000 : Infinity;
    const maxSteps = cfg.maxSteps ?? Infinity;
    const fraction = () => Math.max(run.step / maxSteps, run.state.elapsedMs / budgetMs);
    let stopped: TrainResult['stopped'] = 'budget';
    let emaTps = 0;
    let loss = NaN;
    let logSum = 0;
    let logCount = 0;
    // The minutes budget is wall-clock time (evaluation and checkpoints count too), added to earlier sessions'.
    const wallStart = performance.now();
    const elapsedBefore = run.state.elapsedMs;

    while (fraction() < 1) {
      if (hooks.shouldStop?.()) {
        stopped = 'cancelled';
        break;
      }
      const t0 = performance.now();
      const lr = learningRate(run.step, fraction(), {
        peak: cfg.learningRate,
        min: cfg.minLearningRate,
        warmupSteps: Math.min(cfg.warmupSteps, Math.max(1, Math.floor(maxSteps / 10))),
      });
      const batch = sampleBatch(data.train, cfg.batchSize, T, rng);
      const r = guardMemory(() => trainStep(model, opt, batch, lr, cfg.gradClip), cfg);
      if (!Number.isFinite(r.loss)) {
        throw new GptLabError(
          `Training diverged at step ${run.step + 1} (loss ${r.loss}). Lower the learning rate.`,
          'DIVERGED',
        );
      }
      loss = r.loss;
      losses.push(loss);
      run.step++;
      const dt = performance.now() - t0;
      run.state.elapsedMs = elapsedBefore + (performance.now() - wallStart);
      run.state.tokensSeen += batch.B * batch.T;
      const tps = (batch.B * batch.T * 1000) / dt;
      emaTps = emaTps === 0 ? tps : 0.8 * emaTps + 0.2 * tps;
      run.state.rng = rng.state();
      run.state.optimizerStep = opt.t;
      logSum += loss;
      logCount++;

      const f = fraction();
      const progress: TrainProgress = {
        step: run.step,
        maxSteps: cfg.maxSteps,
        fraction: Math.min(1, f),
        loss,
        lr,
        gradNorm: r.gradNorm,
        tokensPerSec: emaTps,
        tokensSeen: run.state.tokensSeen,
        elapsedMs: run.state.elapsedMs,
        etaMs: f > 0 ? (run.state.elapsedMs * (1 - f)) / f : 0,
      };
      hooks.onProgress?.(progress);
      const finalStep = f >= 1;
      const record: Record<string, number> = {};
      if (run.step % cfg.logInterval === 0 || finalStep) {
        Object.assign(record, {
          loss: logSum / logCount,
          lr,
          tokensPerSec: Math.round(emaTps),
          elapsedMs: Math.round(run.state.elapsedMs),
        });
        logSum = logCount = 0;
      }
      if (run.step % cfg.evalInterval === 0 || finalStep) {
        lastEval = evaluate();
        hooks.onEval?.(lastEval);
        Object.assign(record, { valLoss: lastEval.valLoss, valBpb: lastEval.valBpb });
      }
      if (Object.keys(record).length) await history(req.outDir, { step: run.step, ...record });
      if (req.outDir && run.step % cfg.checkpointInterval === 0 && !finalStep) await save(req, run);
      await new Promise((r) => setImmediate(r)); // let signals, messages and progress through
    }

    if (!lastEval || lastEval.step !== run.step) {
      lastEval = evaluate();
      hooks.onEval?.(lastEval);
      await history(req.outDir, { step: run.step, valLoss: lastEval.valLoss, valBpb: lastEval.valBpb });
    }
    if (req.outDir) await save(req, run);
    return {
      step: run.step,
      stopped,
      loss,
      initialValLoss: run.state.initialValLoss,
      valLoss: lastEval.valLoss,
      valBpb: lastEval.valBpb,
      tokensSeen: run.state.tokensSeen,
      elapsedMs: run.state.elapsedMs,
      losses,
      vocabSize: tokenizer.vocabSize,
    };
  } finally {
    model.dispose();
    opt.dispose();
  }
}

/** One optimizer step; every tensor it makes is disposed before it returns. */
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

/** wasm reports an exhausted heap as a bare "Aborted()"; say what happened and what to do. */
function guardMemory<T>(f: () => T, cfg: TrainConfig): T {
  try {
    return f();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/Aborted\(|out of memory|Cannot allocate|Array buffer allocation/i.test(msg)) {
      throw new GptLabError(
        `Out of memory training a ${cfg.model.nLayer}-layer × ${cfg.model.nEmbd} model with batches of ${cfg.batchSize} × ${cfg.model.contextLength} tokens (${msg.split('\n')[0]}). Choose a smaller preset, batch size or context.`,
        'OUT_OF_MEMORY',
      );
    }
    throw err;
  }
}

/** Token-weighted mean loss over batches, without gradients. */
export function meanLoss(model: GPT, batches: Batch[]): number {
  let sum = 0;
  let n = 0;
  for (const b of batches) {
    const l = tf.tidy(() => model.loss(tf.tensor2d(b.x, [b.B, b.T], 'int32'), tf.tensor2d(b.y, [b.B, b.T], 'int32')));
    sum += l.dataSync()[0] * b.B * b.T;
    n += b.B * b.T;
    l.dispose();
  }
  return n ? sum / n : NaN;
}

async function startRun(req: TrainRequest, log: (m: string) => void): Promise<Run> {
  const cfg = validateTrainConfig({ ...req.config, model: { ...req.config.model } });
  const { train } = splitByFile(req.files, cfg.valFraction, cfg.seed);
  const t0 = performance.now();
  const tokenizer = trainTokenizer(
    sampleDocs(
      train.map((f) => f.bytes),
      cfg.tokenizerSampleBytes,
    ),
    {
      vocabSize: cfg.model.vocabSize,
    },
  );
  log(`tokenizer: ${tokenizer.vocabSize} tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // A small corpus may support fewer merges than asked; the model's vocabulary follows the tokenizer's.
  cfg.model.vocabSize = tokenizer.vocabSize;
  const model = GPT.create(cfg.model, cfg.seed);
  const opt = new AdamW(model.params, { beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay });
  return {
    cfg,
    tokenizer,
    model,
    opt,
    step: 0,
    state: { rng: new Rng(cfg.seed).state(), tokensSeen: 0, elapsedMs: 0, optimizerStep: 0, initialValLoss: NaN },
  };
}

async function resumeRun(req: TrainRequest, log: (m: string) => void): Promise<Run> {
  const dir = req.outDir;
  if (!dir || !checkpointExists(dir)) {
    throw new GptLabError(
      `There is no checkpoint to resume in ${dir ?? '(no folder)'}. Train a model first.`,
      'NO_CHECKPOINT',
    );
  }
  const ckpt = await loadCheckpoint(dir);
  const { config, tokenizer, weights } = readModelFolder(dir, ckpt);
  const saved = (config.training ?? {}) as unknown as TrainConfig;
  // The budget is the caller's: resuming means "train further".
  const cfg = validateTrainConfig({
    ...saved,
    model: config.model,
    maxSteps: req.config.maxSteps,
    maxMinutes: req.config.maxMinutes,
  });
  const state = ckpt.trainer as unknown as TrainerState;
  if (!Array.isArray(state.rng) || typeof state.optimizerStep !== 'number') {
    throw new GptLabError(`state.json in ${dir} has no trainer state to resume from; train again.`, 'BAD_CHECKPOINT');
  }
  const model = new GPT(config.model, weights);
  const opt = new AdamW(model.params, { beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay });
  if (!ckpt.optimizer)
    throw new GptLabError(`optimizer.safetensors is missing in ${dir}; cannot resume.`, 'BAD_CHECKPOINT');
  const moments = new Map<string, Float32Array>();
  for (const [name, t] of ckpt.optimizer) moments.set(name, t.data as Float32Array);
  opt.loadState(moments, state.optimizerStep);
  // Forget history written after the checkpoint (a crash or kill between checkpoints).
  const { records } = await readHistory(dir);
  const kept = records.filter((r) => typeof r.step === 'number' && r.step <= ckpt.step);
  await writeFileAtomic(path.join(dir, 'history.jsonl'), kept.map((r) => JSON.stringify(r) + '\n').join(''));
  log(`resuming from step ${ckpt.step}`);
  return { cfg, tokenizer, model, opt, step: ckpt.step, state: { ...state } };
}

async function save(req: TrainRequest, run: Run): Promise<void> {
  const dir = req.outDir!;
  const config: ModelFolderConfig = {
    format: CONFIG_FORMAT,
    model: run.cfg.model,
    preset: run.cfg.preset,
    training: { ...run.cfg } as unknown as Record<string, unknown>,
    corpus: req.corpusSummary,
  };
  const shape = (name: string) => parameterShape(run.cfg.model, name);
  const weights = toNamedTensors(run.model.weights(), shape);
  const optimizer = toNamedTensors(run.opt.state(), (n) => shape(n.replace(/^exp_avg(_sq)?\./, '')));
  await saveCheckpoint(dir, {
    config,
    tokenizer: run.tokenizer.toJSON(),
    weights,
    optimizer,
    step: run.step,
    trainer: { ...run.state },
  });
  req.hooks?.onCheckpoint?.(run.step);
}

async function history(dir: string | undefined, record: Record<string, number>): Promise<void> {
  if (dir) await appendHistory(dir, { ...record, time: new Date().toISOString() });
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
