import * as path from 'node:path';
import { initBackend, BackendPreference } from '../core/backend';
import { acquireFolderLock, clearModelFolder, inspectOutFolder } from '../core/checkpoint';
import { formatBytes, formatCorpusSummary, readCorpus } from '../core/corpus';
import { GptLabError } from '../core/errors';
import {
  Architecture,
  ARCHITECTURES,
  AUTO_LADDER,
  AUTO_PRESET,
  autoPreset,
  formatCount,
  parameterCount,
  resolvePreset,
  withArchitecture,
} from '../core/model/config';
import { checkTrainingFits, memoryLimit } from '../core/model/memory';
import { FIRST_MERGE_ID, MAX_VOCAB_SIZE } from '../core/tokenizer';
import { defaultTrainConfig, TrainConfig } from '../core/train/config';
import { heldOutScope } from '../core/train/heldOut';
import { pretrainAndEvaluate } from '../core/train/pretrainAndEvaluate';
import type { BudgetKind, PassesCap } from '../core/train/loop';
import { int, inRange, nonNegative, positive } from './options';
import { lossAndBpb, progressText } from '../protocol/format';
import { replicasText } from '../protocol/lossPanel';
import { formatDuration, Output } from './output';
import { stopOnSignal } from './stopSignal';

export interface TrainCliOptions {
  preset?: string;
  /** gpt2 | modern (default: the preset's). */
  arch?: string;
  minutes?: string;
  steps?: string;
  out?: string;
  resume?: boolean;
  force?: boolean;
  seed?: string;
  backend: BackendPreference;
  json?: boolean;
  include?: string[];
  exclude?: string[];
  maxFileKb?: string;
  layers?: string;
  heads?: string;
  embd?: string;
  context?: string;
  vocab?: string;
  batch?: string;
  lr?: string;
  fim?: string;
  /** false with --no-completions: no held-out completion check after training. */
  completions?: boolean;
  /** Data-parallel replicas (worker threads); default auto. */
  replicas?: string;
  /** Stop after this many passes over the training tokens (0: no cap, even with auto). */
  maxPasses?: string;
  /** Pre-training's dropout, [0, 0.9] (default 0). */
  dropout?: string;
}

/** The checkpoint decides these on --resume; giving one anyway is refused rather than silently ignored. */
const FIXED_ON_RESUME: [keyof TrainCliOptions, string][] = [
  ['preset', '--preset'],
  ['arch', '--arch'],
  ['layers', '--layers'],
  ['heads', '--heads'],
  ['embd', '--embd'],
  ['context', '--context'],
  ['vocab', '--vocab'],
  ['batch', '--batch'],
  ['fim', '--fim'],
  ['seed', '--seed'],
  ['dropout', '--dropout'],
];

export interface TrainPlan {
  config: TrainConfig;
  resume: boolean;
  /** On resume, what the options change; a budget in `config` then trains that much more. */
  resumeOverrides?: { learningRate?: number };
}

/** `--arch`'s value, refused with the choices when it is not one. */
export function architectureOption(value: string): Architecture {
  if (!ARCHITECTURES.includes(value as Architecture)) {
    throw new GptLabError(`--arch must be one of: ${ARCHITECTURES.join(', ')} (got '${value}').`, 'BAD_OPTION');
  }
  return value as Architecture;
}

/**
 * The config of a fresh run; every option is checked before anything is allocated. `--preset auto` sizes the
 * model for `corpusBytes` (unknown before the corpus is read: the size for an average corpus).
 */
export function trainConfigFromOptions(o: TrainCliOptions, corpusBytes?: number): TrainConfig {
  const steps = int(o.steps, '--steps');
  const minutes = positive(o.minutes, '--minutes') ?? (steps === undefined ? 2 : undefined);
  const seed = int(o.seed, '--seed', 0);
  const batch = int(o.batch, '--batch');
  const fim = inRange(o.fim, '--fim', 0, 1);
  const passes = passesOption(o);
  const dropout = inRange(o.dropout, '--dropout', 0, 0.9);
  const arch = o.arch !== undefined ? architectureOption(o.arch) : undefined;
  const preset = resolvePreset(o.preset ?? 'tiny', { corpusBytes, minutes });
  const cfg = defaultTrainConfig(preset, {
    maxSteps: steps,
    maxMinutes: minutes,
    ...(seed !== undefined && { seed }),
    ...(batch !== undefined && { batchSize: batch }),
    ...(fim !== undefined && { fimRate: fim }),
    ...(passes !== undefined && { maxPasses: passes || undefined }),
    ...(dropout && { dropout }),
  });
  const lr = positive(o.lr, '--lr');
  if (lr !== undefined) {
    cfg.learningRate = lr;
    cfg.minLearningRate = lr / 10;
  }
  const m = cfg.model;
  m.nLayer = int(o.layers, '--layers') ?? m.nLayer;
  m.nHead = int(o.heads, '--heads') ?? m.nHead;
  m.nEmbd = int(o.embd, '--embd') ?? m.nEmbd;
  m.contextLength = int(o.context, '--context') ?? m.contextLength;
  // The vocabulary starts with the 256 bytes and the special tokens; BPE merges come on top.
  m.vocabSize = int(o.vocab, '--vocab', FIRST_MERGE_ID, MAX_VOCAB_SIZE) ?? m.vocabSize;
  if (m.nEmbd % m.nHead !== 0) {
    throw new GptLabError(`--embd (${m.nEmbd}) must be divisible by --heads (${m.nHead}).`, 'BAD_OPTION');
  }
  return defaultTrainConfig(preset, arch ? withArchitecture(cfg, arch) : cfg);
}

/** What to ask the trainer for: a fresh run, or a resume with only what may change. */
export function trainPlan(o: TrainCliOptions): TrainPlan {
  if (!o.resume) return { config: trainConfigFromOptions(o), resume: false };
  if (o.force)
    throw new GptLabError('--resume continues a model and --force replaces it: give one of them.', 'BAD_OPTION');
  const fixed = FIXED_ON_RESUME.filter(([k]) => o[k] !== undefined).map(([, flag]) => flag);
  if (fixed.length) {
    throw new GptLabError(
      `${fixed.join(', ')} cannot change when resuming: the saved model's values apply. Drop ${fixed.length > 1 ? 'them' : 'it'}, ` +
        'or train a new model (another --out, or --force to replace this one).',
      'BAD_OPTION',
    );
  }
  // Without a budget the saved run finishes its own; with one, it trains that much more.
  const config = defaultTrainConfig('tiny', { maxSteps: 1, maxMinutes: undefined });
  config.maxSteps = int(o.steps, '--steps');
  config.maxMinutes = positive(o.minutes, '--minutes');
  // A cap given on resume counts the passes since the run began (0 or none: no cap on what is trained now).
  config.maxPasses = passesOption(o) || undefined;
  const lr = positive(o.lr, '--lr');
  return { config, resume: true, ...(lr !== undefined && { resumeOverrides: { learningRate: lr } }) };
}

/** `--max-passes`: a number ≥ 0, 0 meaning no cap. */
function passesOption(o: TrainCliOptions): number | undefined {
  return nonNegative(o.maxPasses, '--max-passes');
}

function budgetText(c: TrainConfig, resume: boolean): string {
  const parts = [
    c.maxSteps !== undefined && `${c.maxSteps} steps`,
    c.maxMinutes !== undefined && `${c.maxMinutes} min`,
  ];
  const text = parts.filter(Boolean).join(' or ');
  const cap = c.maxPasses !== undefined ? `, at most ${c.maxPasses} passes over the training tokens in all` : '';
  if (!resume) return text + cap;
  return (text ? `${text} more` : "the rest of the saved run's budget") + cap;
}

/**
 * The start line of a capped run: how many passes, over how much code, and whether the cap or the minutes will
 * end it (from the size's measured speed on an idle core: an estimate).
 */
export function passesCapText(
  cap: PassesCap,
  o: { preset?: string; corpusBytes: number; minutes?: number; tokensPerSecond?: number },
): string {
  const who = o.preset === AUTO_PRESET ? 'auto' : 'this run';
  const passes = +cap.maxPasses.toFixed(2);
  const head = `${who} trains at most ${passes} passes over your ${formatBytes(o.corpusBytes)} of code (~${formatCount(cap.trainTokens)} training tokens): more would memorise it`;
  if (o.minutes === undefined || !o.tokensPerSecond) return head;
  const minutes = (cap.tokens - cap.tokensSeen) / o.tokensPerSecond / 60;
  if (minutes >= o.minutes) return `${head}; the ${o.minutes} minutes will likely end it first`;
  const when = minutes < 1 ? `${Math.max(1, Math.round(minutes * 60))} seconds` : `${Math.round(minutes)}`;
  return `${head}; the run will end in about ${when} of the ${o.minutes} minutes`;
}

/** Why a run that used up its budget stopped, when it was the passes cap rather than the minutes or steps. */
export function endedByText(r: { endedBy?: BudgetKind; passes?: number }, maxPasses?: number): string | undefined {
  if (r.endedBy !== 'passes') return undefined;
  const cap = maxPasses ?? (r.passes !== undefined ? Math.round(r.passes * 10) / 10 : undefined);
  return `the cap${cap !== undefined ? ` of ${cap} passes` : ''} over the training tokens ended the run, not the minutes: more would memorise this code (--max-passes changes the cap, 0 removes it)`;
}

/** Idle-core speed of a preset of `auto`'s ladder, for the passes cap's time estimate. */
function presetSpeed(config: TrainConfig, corpusBytes: number): number | undefined {
  if (config.preset === AUTO_PRESET) return autoPreset({ corpusBytes, minutes: config.maxMinutes }).tokensPerSecond;
  return AUTO_LADDER.find((r) => r.preset.name === config.preset)?.tokensPerSecond;
}

export async function trainCommand(dir: string, o: TrainCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  const root = path.resolve(dir);
  const outDir = path.resolve(o.out ?? path.join(root, '.gpt-lab', 'model'));
  const plan = trainPlan(o);
  const { config } = plan;
  // Before anything is read or written: a folder that is not ours, or a model that would be replaced.
  assertCanWrite(await inspectOutFolder(outDir), outDir, o);
  // Pre-training reads asynchronously and generates on wasm: auto may take a hardware webgpu adapter.
  const backend = await initBackend(o.backend, { readsAsync: true });
  out.info(`backend: ${backend.name}${backend.skipped.length ? ` (skipped ${backend.skipped.join('; ')})` : ''}`);
  if (!plan.resume) {
    const limit = memoryLimit(backend.name);
    checkTrainingFits(config.model, config.batchSize, limit.bytes, limit.where);
  }

  const corpus = await readCorpus(root, {
    include: o.include,
    exclude: o.exclude,
    maxFileBytes: o.maxFileKb !== undefined ? positive(o.maxFileKb, '--max-file-kb')! * 1024 : undefined,
    skipDirs: [outDir],
  });
  out.info(`corpus: ${formatCorpusSummary(corpus.summary)}`);
  // `auto` is sized for the corpus now read (the memory check above took its size with the largest vocabulary).
  if (o.preset === AUTO_PRESET && !plan.resume) Object.assign(config, trainConfigFromOptions(o, corpus.summary.bytes));
  out.event('corpus', { root, ...corpus.summary });
  const m = config.model;
  out.info(
    plan.resume
      ? `resuming ${outDir}: budget ${budgetText(config, true)}${plan.resumeOverrides ? `, learning rate ${plan.resumeOverrides.learningRate}` : ''}`
      : `model: ${config.preset ?? 'custom'} — ${formatCount(parameterCount(m))} parameters (${m.nLayer} layers × ${m.nEmbd}, ${m.nHead} heads, context ${m.contextLength}); budget ${budgetText(config, false)}`,
  );

  const lock = acquireFolderLock(outDir, { purpose: 'gpt-lab train', onLog: (msg) => out.info(msg) });
  // Ctrl+C once: stop at the next step and save. Twice: quit now (the lock goes at exit).
  const stop = stopOnSignal(out);
  let lastVal = '';
  try {
    // Checked again under the lock: another run may have written the folder since.
    const kind = await inspectOutFolder(outDir);
    assertCanWrite(kind, outDir, o);
    // A fresh run starts from a clean folder: no history, evaluation or checkpoint of an earlier model.
    if (!plan.resume && (kind === 'model' || kind === 'leftovers')) await clearModelFolder(outDir);
    const {
      result,
      completions: ev,
      completionsError,
      heldOut,
    } = await pretrainAndEvaluate({
      files: corpus.files,
      config,
      outDir,
      resume: plan.resume,
      ...(plan.resumeOverrides && { resumeOverrides: plan.resumeOverrides }),
      corpusSummary: { root, ...corpus.summary },
      completions: o.completions !== false,
      replicas: o.replicas === undefined ? 'auto' : int(o.replicas, '--replicas', 1, 256)!,
      hooks: {
        shouldStop: () => stop.requested,
        onLog: (msg) => out.info(msg),
        onPassesCap: (cap) => {
          const tokensPerSecond = plan.resume ? undefined : presetSpeed(config, corpus.summary.bytes);
          const bytes = corpus.summary.bytes;
          out.info(
            passesCapText(cap, {
              preset: config.preset,
              corpusBytes: bytes,
              minutes: config.maxMinutes,
              tokensPerSecond,
            }),
          );
          out.event('passesCap', cap);
        },
        onEval: (e) => {
          lastVal = ` · val ${e.valLoss.toFixed(3)} (${(e.valBpb ?? NaN).toFixed(2)} bpb)`;
          out.event('eval', e);
        },
        onProgress: (p) => {
          out.event('progress', p);
          const replicas = replicasText(p);
          const figures = `loss ${p.loss.toFixed(3)}${lastVal}${replicas ? ` · ${replicas}` : ''}`;
          out.progress(p.fraction, progressText(p, { step: true, figures }));
        },
      },
    });
    out.clear();
    out.info(
      `${result.stopped === 'cancelled' ? 'stopped' : 'done'} at step ${result.step} in ${formatDuration(result.elapsedMs)}: ` +
        `val loss ${result.initialValLoss.toFixed(3)} → ${lossAndBpb(result.valLoss, result.valBpb)}, ` +
        `${formatCount(result.tokensSeen)} tokens seen` +
        (result.passes !== undefined ? ` (${+result.passes.toFixed(2)} passes over the training tokens)` : ''),
    );
    const why = endedByText(result, config.maxPasses);
    if (why) out.info(why);
    out.info(`model saved in ${outDir}`);
    if (heldOut) {
      // The final figure, as a compressor would be measured; the val figures above sample windows from scratch.
      out.info(`held-out: ${heldOut.bitsPerByte.toFixed(3)} bits/byte on ${heldOutScope(heldOut)}`);
      out.event('heldOut', heldOut);
    }
    if (completionsError) throw completionsError;
    if (ev) {
      // The same honest check the extension shows in Model Info: completions on held-out files.
      out.info(
        `completions on held-out files: ${(ev.exactMatch * 100).toFixed(1)}% of suggestions equal the rest of the line, ${(ev.charsSaved * 100).toFixed(1)}% of characters saved (${ev.positions} positions, ${ev.mode === 'fim' ? 'fill-in-the-middle' : 'prefix-only'} prompts)`,
      );
      out.event('completions', { ...ev, examples: ev.examples.slice(0, 3) });
    }
    out.event('done', { ...result, losses: undefined, outDir, backend: backend.name });
  } finally {
    stop.dispose();
    lock.release();
  }
}

/** A fresh run never replaces a trained model unless --force says so. */
function assertCanWrite(kind: Awaited<ReturnType<typeof inspectOutFolder>>, outDir: string, o: TrainCliOptions): void {
  if (kind === 'model' && !o.resume && !o.force) {
    throw new GptLabError(
      `${outDir} already holds a trained model. Add --resume to continue training it, --force to replace it with ` +
        'a new one, or choose another --out.',
      'MODEL_EXISTS',
    );
  }
}
