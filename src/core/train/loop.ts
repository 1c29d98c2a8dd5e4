import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import {
  appendHistory,
  checkpointExists,
  loadCheckpoint,
  LoadedCheckpoint,
  readHistory,
  saveCheckpoint,
  writeFileAtomic,
} from '../checkpoint';
import { GptLabError } from '../errors';
import { CONFIG_FORMAT, ModelFolderConfig, readModelFolder, toNamedTensors } from '../model/persist';
import { Rng, RngState } from '../rng';
import type { Tokenizer } from '../tokenizer';
import { AdamW } from './adamw';
import { TrainConfig } from './config';
import { MuonAdamW, Optimizer, stateParamName } from './muon';
import type { DataParallel } from './parallel/dataParallel';
import { learningRate } from './schedule';
import type { EvalMetrics, TrainTask } from './task';

export interface TrainProgress {
  stage: string;
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
  /** The task's own training metrics of this step (token accuracy, reward margin, …). */
  metrics?: Record<string, number>;
  /** Data-parallel replicas the step ran on (1: the loop's thread alone). */
  replicas?: number;
  /** With replicas: milliseconds per step spent averaging gradients across them (a moving average). */
  allReduceMs?: number;
}

export type EvalResult = { step: number; valBpb?: number } & EvalMetrics;

export interface TrainHooks {
  onProgress?(p: TrainProgress): void;
  onEval?(e: EvalResult): void;
  onLog?(message: string): void;
  onCheckpoint?(step: number): void;
  /** Polled between steps; true stops at the step boundary and saves. */
  shouldStop?(): boolean;
  /** Before the first step, when a passes cap applies (without this hook the loop logs it through onLog). */
  onPassesCap?(cap: PassesCap): void;
}

/** A run's cap in passes over its training tokens (TrainConfig.maxPasses), once the training set is known. */
export interface PassesCap {
  maxPasses: number;
  /** Tokens of one pass: the training set's. */
  trainTokens: number;
  /** Tokens seen when the cap ends the run (maxPasses × trainTokens). */
  tokens: number;
  /** Tokens already seen (a resumed run counts the passes before the resume). */
  tokensSeen: number;
}

/** Which budget ended a run: the first of them to be used up. */
export type BudgetKind = 'steps' | 'minutes' | 'cpuMinutes' | 'passes';

/** The run's target, in absolute steps and milliseconds of training time since the run began. */
export interface Budget {
  steps?: number;
  ms?: number;
  /** Milliseconds of the process's CPU time (user + system) spent training: a load-independent proxy budget. */
  cpuMs?: number;
  /** Tokens seen since the run began (a passes cap: maxPasses × the training set's tokens). */
  tokens?: number;
}

/** What a checkpoint carries to resume exactly where it stopped (state.json's `trainer`). */
export interface LoopState {
  stage: string;
  rng: RngState;
  tokensSeen: number;
  elapsedMs: number;
  /** CPU time spent training so far, kept only when the budget has a CPU part. */
  cpuMs?: number;
  optimizerStep: number;
  initialValLoss: number;
  target: Budget;
  /** Where warm-up ended: the decay runs from there to the end of the budget, in steps or in time alike. */
  warmupEnd?: { step: number; elapsedMs: number; cpuMs?: number; tokensSeen?: number };
  /** The task's own state the next batches depend on (PPO's rollout in use): TrainTask.saveState. */
  task?: Record<string, unknown>;
}

export interface ResumePoint {
  step: number;
  state: LoopState;
  moments: Map<string, Float32Array>;
}

export interface LoopRequest<B> {
  task: TrainTask<B>;
  /** Hyperparameters; its maxSteps / maxMinutes are this call's budget (added to a resumed run's). */
  config: TrainConfig;
  /** The model folder: checkpoints and history.jsonl go here. */
  outDir?: string;
  resume?: ResumePoint;
  hooks?: TrainHooks;
  /** Runs each step across replicas (data parallelism); the loop's thread stays replica 0. */
  parallel?: DataParallel<B>;
  /** Tokens of one pass over the training set: with the config's maxPasses, the passes cap (pre-training). */
  trainTokens?: number;
}

export interface LoopResult {
  step: number;
  stopped: 'budget' | 'cancelled';
  /** With stopped 'budget': the budget that ran out first. */
  endedBy?: BudgetKind;
  /** Passes over the training tokens so far (tokens seen / the training set's tokens), when the loop knows them. */
  passes?: number;
  loss: number;
  initialValLoss: number;
  valLoss: number;
  /** The last held-out metrics. */
  metrics: EvalResult;
  tokensSeen: number;
  elapsedMs: number;
  /** Training loss of every step this call ran. */
  losses: number[];
}

/** Files a run writes besides the checkpoint; a fresh run into a folder starts without the last run's. */
export const RUN_FILES = ['history.jsonl', 'completion-eval.json', 'sft-compare.json'];

/** The optimizer a config asks for over `params`: AdamW, or Muon for hidden matrices with AdamW for the rest. */
export function buildOptimizer(params: Map<string, tf.Variable>, cfg: TrainConfig): Optimizer {
  const adam = { beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay };
  if ((cfg.optimizer ?? 'adamw') === 'adamw') return new AdamW(params, adam);
  return new MuonAdamW(params, adam, {
    lr: cfg.muonLearningRate ?? 0.02,
    momentum: cfg.muonMomentum ?? 0.95,
    weightDecay: cfg.muonWeightDecay ?? 0,
    adamPeakLr: cfg.learningRate,
  });
}

/**
 * The one training loop every stage runs on: the config's optimizer (AdamW, or Muon + AdamW) over the task's
 * trainable parameters, warm-up then cosine (or warm-up/stable/decay) over the budget, global-norm clipping,
 * validation, history and checkpoints with exact resume.
 */
export async function trainLoop<B>(req: LoopRequest<B>): Promise<LoopResult> {
  const { task, config: cfg, hooks = {} } = req;
  const trainable = task.trainable ?? task.model.params;
  const opt = buildOptimizer(trainable, cfg);
  let parallel = req.parallel;
  try {
    const state = startState(req);
    if (req.resume) {
      try {
        opt.loadState(req.resume.moments, req.resume.state.optimizerStep);
      } catch (err) {
        throw new GptLabError(
          `optimizer.safetensors in ${req.outDir ?? 'the model folder'} does not fit the model (${(err as Error).message}); resume is not possible — train a new version.`,
          'BAD_CHECKPOINT',
        );
      }
      if (req.resume.state.task) task.restoreState?.(req.resume.state.task);
    }
    let step = req.resume?.step ?? 0;
    if (!req.resume && req.outDir) await clearRunFiles(req.outDir);
    parallel = await startParallel(parallel, task, trainable, opt, hooks);

    const evaluate = async (): Promise<EvalResult> => ({
      step,
      ...(await guardMemoryAsync(() => task.evaluate(), cfg)),
    });
    const record = async (r: Record<string, number>) => {
      if (req.outDir) await appendHistory(req.outDir, { step, ...r, time: new Date().toISOString() });
    };
    let lastEval: EvalResult | undefined;
    if (step === 0) {
      lastEval = await evaluate();
      state.initialValLoss = lastEval.valLoss;
      hooks.onEval?.(lastEval);
      await record(evalRecord(lastEval));
    }
    const maxSteps = state.target.steps ?? Infinity;
    const budgetMs = state.target.ms ?? Infinity;
    const budgetCpuMs = state.target.cpuMs ?? Infinity;
    const budgetTokens = state.target.tokens ?? Infinity;
    const parts = (s: number, ms: number, cpu = 0, tokens = 0): Record<BudgetKind, number> => ({
      steps: s / maxSteps,
      minutes: ms / budgetMs,
      cpuMinutes: cpu / budgetCpuMs,
      passes: tokens / budgetTokens,
    });
    const fractionAt = (s: number, ms: number, cpu?: number, tokens?: number) =>
      Math.max(...Object.values(parts(s, ms, cpu, tokens)));
    const fraction = () => fractionAt(step, state.elapsedMs, state.cpuMs, state.tokensSeen);
    if (fraction() >= 1 && req.resume) {
      hooks.onLog?.(`the run already reached its budget at step ${step}; give a budget to train further`);
    }
    announcePassesCap(req, state, hooks);
    const warmupSteps = Math.min(cfg.warmupSteps, Math.max(1, Math.floor(maxSteps / 10)));

    const rng = new Rng(state.rng);
    const losses: number[] = [];
    let stopped: LoopResult['stopped'] = 'budget';
    let emaTps = 0;
    let emaStepMs = 0;
    let emaAllReduceMs = 0;
    let loss = NaN;
    let logSum = 0;
    let logCount = 0;
    let last = performance.now();
    // A CPU budget counts the whole process's CPU time from here on (every thread: one replica to be a fair proxy).
    const cpuTracked = state.target.cpuMs !== undefined;
    const cpuBase = state.cpuMs ?? 0;
    const cpuStart = process.cpuUsage();
    if (cpuTracked) state.cpuMs = cpuBase;
    /** Time the loop spent after the last step on evaluation, history and checkpoints. */
    let workMs = 0;

    while (fraction() < 1) {
      if (hooks.shouldStop?.()) {
        stopped = 'cancelled';
        break;
      }
      const t0 = performance.now();
      if (step >= warmupSteps && !state.warmupEnd) {
        state.warmupEnd = {
          step,
          elapsedMs: state.elapsedMs,
          ...(cpuTracked && { cpuMs: state.cpuMs }),
          tokensSeen: state.tokensSeen,
        };
      }
      const w = state.warmupEnd;
      const fw = w ? fractionAt(w.step, w.elapsedMs, w.cpuMs, w.tokensSeen) : 0;
      const lr = learningRate(step, fw < 1 ? (fraction() - fw) / (1 - fw) : 1, {
        peak: cfg.learningRate,
        min: cfg.minLearningRate,
        warmupSteps,
        schedule: cfg.schedule,
        decayFraction: cfg.decayFraction,
      });
      const batch = await task.nextBatch(rng);
      const r = parallel
        ? await parallel.step(task, batch, lr, cfg.gradClip).catch((e: unknown) =>
            guardMemory(() => {
              throw e; // a replica's exhausted heap reads as the loop's own
            }, cfg),
          )
        : await guardMemoryAsync(() => optimizerStepAsync(task, opt, batch, lr, cfg.gradClip), cfg);
      if ('allReduceMs' in r && r.allReduceMs !== undefined) {
        emaAllReduceMs = emaAllReduceMs === 0 ? r.allReduceMs : 0.8 * emaAllReduceMs + 0.2 * r.allReduceMs;
      }
      if (!Number.isFinite(r.loss)) {
        throw new GptLabError(
          `Training diverged at step ${step + 1} (loss ${r.loss}). Lower the learning rate.`,
          'DIVERGED',
        );
      }
      loss = r.loss;
      losses.push(loss);
      step++;
      const now = performance.now();
      const stepMs = now - t0;
      // The minutes budget is training time: evaluation and checkpoints count, a suspended machine or a stopped
      // process (SIGSTOP) does not. Between two steps the loop counts at most 3 typical steps plus the work it
      // measured itself (evaluation, history, checkpoint): a pause anywhere else is not training.
      const typical = emaStepMs;
      emaStepMs = typical === 0 ? stepMs : 0.8 * typical + 0.2 * Math.min(stepMs, 3 * typical);
      state.elapsedMs += Math.min(now - last, 3 * emaStepMs + workMs);
      last = now;
      workMs = 0;
      if (cpuTracked) {
        const cpu = process.cpuUsage(cpuStart);
        state.cpuMs = cpuBase + (cpu.user + cpu.system) / 1000;
      }
      const tokens = task.batchTokens(batch);
      state.tokensSeen += tokens;
      const tps = (tokens * 1000) / stepMs;
      emaTps = emaTps === 0 ? tps : 0.8 * emaTps + 0.2 * tps;
      state.rng = rng.state();
      state.optimizerStep = opt.t;
      logSum += loss;
      logCount++;

      const f = fraction();
      hooks.onProgress?.({
        stage: task.stage,
        step,
        maxSteps: state.target.steps,
        fraction: Math.min(1, f),
        loss,
        lr,
        gradNorm: r.gradNorm,
        ...(parallel ? { replicas: parallel.replicas, allReduceMs: emaAllReduceMs } : { replicas: 1 }),
        tokensPerSec: emaTps,
        tokensSeen: state.tokensSeen,
        elapsedMs: state.elapsedMs,
        etaMs: f > 0 ? (state.elapsedMs * (1 - f)) / f : 0,
        metrics: 'metrics' in r ? r.metrics : undefined,
      });
      const finalStep = f >= 1;
      const line: Record<string, number> = {};
      if (step % cfg.logInterval === 0 || finalStep) {
        Object.assign(line, {
          loss: logSum / logCount,
          lr,
          tokensPerSec: Math.round(emaTps),
          elapsedMs: Math.round(state.elapsedMs),
        });
        logSum = logCount = 0;
      }
      const w0 = performance.now();
      const cpu0 = process.cpuUsage();
      if (step % cfg.evalInterval === 0 || finalStep) {
        lastEval = await evaluate();
        hooks.onEval?.(lastEval);
        Object.assign(line, evalRecord(lastEval));
      }
      if (Object.keys(line).length) await record(line);
      if (req.outDir && step % cfg.checkpointInterval === 0 && !finalStep) await save(req, opt, step, state, lastEval);
      // Evaluation is computation: a stop in the middle of it (SIGSTOP, sleep) shows as wall time without CPU
      // time, so its wall time counts only as far as the CPU worked, plus a little for the checkpoint's I/O.
      const cpu = process.cpuUsage(cpu0);
      workMs = Math.min(performance.now() - w0, (cpu.user + cpu.system) / 1000 + 250);
      await new Promise((r) => setImmediate(r)); // let signals, messages and progress through
    }

    if (!lastEval || lastEval.step !== step) {
      lastEval = await evaluate();
      hooks.onEval?.(lastEval);
      await record(evalRecord(lastEval));
    }
    if (req.outDir) await save(req, opt, step, state, lastEval);
    const used = Object.entries(parts(step, state.elapsedMs, state.cpuMs, state.tokensSeen)) as [BudgetKind, number][];
    const endedBy = stopped === 'budget' ? used.reduce((a, b) => (b[1] > a[1] ? b : a))[0] : undefined;
    return {
      step,
      stopped,
      ...(endedBy && { endedBy }),
      ...(req.trainTokens && { passes: state.tokensSeen / req.trainTokens }),
      loss,
      initialValLoss: state.initialValLoss,
      valLoss: lastEval.valLoss,
      metrics: lastEval,
      tokensSeen: state.tokensSeen,
      elapsedMs: state.elapsedMs,
      losses,
    };
  } finally {
    await parallel?.dispose();
    opt.dispose();
  }
}

/** Starts the replicas; if they cannot start (no worker threads, a backend that fails there), one thread trains. */
async function startParallel<B>(
  parallel: DataParallel<B> | undefined,
  task: TrainTask<B>,
  trainable: Map<string, tf.Variable>,
  opt: Optimizer,
  hooks: TrainHooks,
): Promise<DataParallel<B> | undefined> {
  if (!parallel) return undefined;
  try {
    await parallel.start(task.model, trainable, opt);
    if (parallel.replicas > 1) {
      hooks.onLog?.(`data parallel: ${parallel.replicas} replicas, gradients averaged through shared memory`);
    }
    return parallel;
  } catch (err) {
    await parallel.dispose();
    hooks.onLog?.(`data parallel unavailable (${(err as Error).message}); training on one thread`);
    return undefined;
  }
}

/** Tells the front door that passes, not only minutes or steps, may end the run. */
function announcePassesCap<B>(req: LoopRequest<B>, state: LoopState, hooks: TrainHooks): void {
  const tokens = state.target.tokens;
  if (tokens === undefined || !req.trainTokens) return;
  const cap: PassesCap = {
    maxPasses: tokens / req.trainTokens,
    trainTokens: req.trainTokens,
    tokens,
    tokensSeen: state.tokensSeen,
  };
  if (hooks.onPassesCap) hooks.onPassesCap(cap);
  else {
    hooks.onLog?.(
      `at most ${+cap.maxPasses.toFixed(2)} passes over the ${cap.trainTokens} training tokens (${Math.round(tokens)} tokens): more would memorise them`,
    );
  }
}

/** A fresh run's target is the budget; a resumed run trains the budget given now on top, or finishes its own. */
function startState<B>(req: LoopRequest<B>): LoopState {
  const { config: cfg, resume } = req;
  // The passes cap counts from the run's first step (a resume included), so it is a total, never "more".
  const tokens = cfg.maxPasses !== undefined && req.trainTokens ? cfg.maxPasses * req.trainTokens : undefined;
  const asked: Budget = {
    steps: cfg.maxSteps,
    ms: cfg.maxMinutes !== undefined ? cfg.maxMinutes * 60_000 : undefined,
    ...(cfg.maxCpuMinutes !== undefined && { cpuMs: cfg.maxCpuMinutes * 60_000 }),
  };
  if (!resume) {
    if (asked.steps === undefined && asked.ms === undefined && asked.cpuMs === undefined) {
      throw new GptLabError('Training config: give a budget in steps or minutes.', 'BAD_CONFIG');
    }
    return {
      stage: req.task.stage,
      rng: new Rng(cfg.seed).state(),
      tokensSeen: 0,
      elapsedMs: 0,
      optimizerStep: 0,
      initialValLoss: NaN,
      target: { ...asked, ...(tokens !== undefined && { tokens }) },
    };
  }
  const s = { ...resume.state };
  if (asked.steps !== undefined || asked.ms !== undefined || asked.cpuMs !== undefined || tokens !== undefined) {
    s.target = {
      steps: asked.steps !== undefined ? resume.step + asked.steps : undefined,
      ms: asked.ms !== undefined ? s.elapsedMs + asked.ms : undefined,
      ...(asked.cpuMs !== undefined && { cpuMs: (s.cpuMs ?? 0) + asked.cpuMs }),
      ...(tokens !== undefined && { tokens }),
    };
  }
  return s;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  metrics?: Record<string, number>;
}

/** One optimizer step on the task's loss, read synchronously (replicas, benchmarks); disposes all it makes. */
export function optimizerStep<B>(
  task: Pick<TrainTask<B>, 'loss'>,
  opt: Optimizer,
  batch: B,
  lr: number,
  clip: number,
): StepResult {
  return readStep(stepTensors(task, opt, batch, lr, clip), (t) => t.dataSync()[0]);
}

/**
 * The loop's step: the same, reading its scalars with `await data()`, which the webgpu backend needs in Node
 * (no synchronous reads there) and which costs wasm nothing (its data() resolves from the heap at once).
 */
export async function optimizerStepAsync<B>(
  task: Pick<TrainTask<B>, 'loss'>,
  opt: Optimizer,
  batch: B,
  lr: number,
  clip: number,
): Promise<StepResult> {
  const s = stepTensors(task, opt, batch, lr, clip);
  const read = [s.value, s.norm, ...Object.values(s.metricTensors ?? {})];
  const values = new Map<tf.Tensor, number>();
  try {
    (await Promise.all(read.map((t) => t.data()))).forEach((d, i) => values.set(read[i], d[0] as number));
  } catch (err) {
    tf.dispose([s.value, s.norm, ...Object.values(s.grads), ...Object.values(s.metricTensors ?? {})]);
    throw err;
  }
  return readStep(s, (t) => values.get(t)!);
}

interface StepTensors {
  value: tf.Scalar;
  norm: tf.Scalar;
  grads: tf.NamedTensorMap;
  metricTensors?: Record<string, tf.Scalar>;
}

function stepTensors<B>(
  task: Pick<TrainTask<B>, 'loss'>,
  opt: Optimizer,
  batch: B,
  lr: number,
  clip: number,
): StepTensors {
  let metricTensors: Record<string, tf.Scalar> | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = task.loss(batch);
    metricTensors = out.metrics && Object.fromEntries(Object.entries(out.metrics).map(([k, t]) => [k, tf.keep(t)]));
    return out.loss;
  });
  const norm = opt.step(grads, lr, clip);
  return { value, norm, grads, metricTensors };
}

function readStep(s: StepTensors, read: (t: tf.Scalar) => number): StepResult {
  const loss = read(s.value);
  const gradNorm = read(s.norm);
  const metrics = s.metricTensors && Object.fromEntries(Object.entries(s.metricTensors).map(([k, t]) => [k, read(t)]));
  tf.dispose([s.value, s.norm, ...Object.values(s.grads), ...Object.values(s.metricTensors ?? {})]);
  return { loss, gradNorm, metrics };
}

function evalRecord(e: EvalResult): Record<string, number> {
  const { step: _step, ...metrics } = e;
  void _step;
  return metrics;
}

/** wasm reports an exhausted heap as a bare "Aborted()"; say what happened and what to do. */
export function guardMemory<T>(f: () => T, cfg: TrainConfig): T {
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

/** guardMemory for asynchronous work (the loop's steps and evaluation read their results with `await data()`). */
export async function guardMemoryAsync<T>(f: () => T | Promise<T>, cfg: TrainConfig): Promise<T> {
  try {
    return await f();
  } catch (err) {
    return guardMemory(() => {
      throw err;
    }, cfg);
  }
}

/** Named tensors read asynchronously, all at once (webgpu in Node cannot read synchronously; wasm does either). */
export async function readTensors(tensors: Map<string, tf.Tensor>): Promise<Map<string, Float32Array>> {
  const entries = [...tensors];
  const data = await Promise.all(entries.map(([, t]) => t.data()));
  return new Map(entries.map(([name], i) => [name, data[i] as Float32Array]));
}

async function clearRunFiles(dir: string): Promise<void> {
  for (const f of RUN_FILES) await fs.rm(path.join(dir, f), { force: true });
}

async function save<B>(
  req: LoopRequest<B>,
  opt: Optimizer,
  step: number,
  state: LoopState,
  lastEval: EvalResult | undefined,
): Promise<void> {
  const { task, config: cfg } = req;
  const model = task.model;
  const extra = task.folderConfig();
  const config: ModelFolderConfig = {
    format: CONFIG_FORMAT,
    model: model.config,
    preset: cfg.preset,
    training: { ...cfg, stage: task.stage } as unknown as Record<string, unknown>,
    ...(model.heads.length ? { heads: model.heads } : {}),
    ...extra,
    // Every version says which stage made it, from what, and how it did (the GPT Lab view lists these).
    lineage: {
      ...extra.lineage,
      stage: task.stage,
      step,
      ...(lastEval ? { metrics: evalRecord(lastEval) } : {}),
      date: new Date().toISOString(),
    },
  };
  const shape = (name: string) => model.params.get(name)!.shape;
  await saveCheckpoint(req.outDir!, {
    config,
    tokenizer: task.tokenizer.toJSON(),
    weights: toNamedTensors(await readTensors(model.params), shape),
    optimizer: toNamedTensors(await readTensors(opt.stateTensors()), (n) => shape(stateParamName(n))),
    step,
    trainer: { ...state, ...(task.saveState && { task: task.saveState() }) },
  });
  req.hooks?.onCheckpoint?.(step);
}

/** A model folder's checkpoint, ready to continue training: its config, tokenizer, weights and loop state. */
export interface ResumableFolder {
  config: ModelFolderConfig;
  tokenizer: Tokenizer;
  weights: Map<string, Float32Array>;
  resume: ResumePoint;
  checkpoint: LoadedCheckpoint;
}

/** Loads `dir` to resume, and forgets history written after its checkpoint (a crash between checkpoints). */
export async function loadResumable(dir: string | undefined): Promise<ResumableFolder> {
  if (!dir || !checkpointExists(dir)) {
    throw new GptLabError(
      `There is no checkpoint to resume in ${dir ?? '(no folder)'}. Train a model first.`,
      'NO_CHECKPOINT',
    );
  }
  const ckpt = await loadCheckpoint(dir);
  const { config, tokenizer, weights } = readModelFolder(dir, ckpt);
  const state = ckpt.trainer as unknown as LoopState;
  if (!Array.isArray(state.rng) || typeof state.optimizerStep !== 'number') {
    throw new GptLabError(`state.json in ${dir} has no trainer state to resume from; train again.`, 'BAD_CHECKPOINT');
  }
  if (!ckpt.optimizer) {
    throw new GptLabError(
      `${ckpt.optimizerProblem ?? `optimizer.safetensors is missing in ${dir}`}; training cannot resume from this folder (its weights still load): train a new version from it.`,
      'BAD_CHECKPOINT',
    );
  }
  if (!state.target) {
    // Folders from before budgets were saved: the budget their config asked for.
    const t = (config.training ?? {}) as Partial<TrainConfig>;
    state.target = { steps: t.maxSteps, ms: t.maxMinutes !== undefined ? t.maxMinutes * 60_000 : undefined };
  }
  const moments = new Map<string, Float32Array>();
  for (const [name, t] of ckpt.optimizer) moments.set(name, t.data as Float32Array);
  const { records } = await readHistory(dir);
  const kept = records.filter((r) => typeof r.step === 'number' && r.step <= ckpt.step);
  await writeFileAtomic(path.join(dir, 'history.jsonl'), kept.map((r) => JSON.stringify(r) + '\n').join(''));
  return { config, tokenizer, weights, resume: { step: ckpt.step, state, moments }, checkpoint: ckpt };
}
