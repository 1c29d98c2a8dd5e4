import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BackendPreference, initBackend } from '../core/backend';
import { acquireFolderLock, checkpointExists } from '../core/checkpoint';
import { clearModelFolder, inspectOutFolder } from '../core/checkpoint/modelFolder';
import { readCorpus } from '../core/corpus';
import { readExamples } from '../core/data/examples';
import { formatProblems } from '../core/data/jsonl';
import { GptLabError } from '../core/errors';
import { formatComparison } from '../core/train/compare';
import { finetune } from '../core/train/finetune';
import { nextVersionName } from '../core/versions';
import { inRange, int, positive } from './options';
import { formatDuration, formatRate, Output } from './output';

export interface FinetuneCliOptions {
  model: string;
  data: string;
  out?: string;
  steps?: string;
  minutes?: string;
  lr?: string;
  batch?: string;
  seed?: string;
  corpus?: string;
  mix?: string;
  resume?: boolean;
  force?: boolean;
  backend: BackendPreference;
  json?: boolean;
}

/** `gpt-lab finetune`: Stage 2 from the command line, into a new version beside the parent. */
export async function finetuneCommand(o: FinetuneCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  const parentDir = path.resolve(o.model);
  if (!checkpointExists(parentDir)) {
    throw new GptLabError(
      `There is no trained model in ${parentDir}. Train one first (gpt-lab train).`,
      'NO_CHECKPOINT',
    );
  }
  const outDir = path.resolve(o.out ?? (await defaultOut(parentDir)));
  const steps = int(o.steps, '--steps');
  const minutes = positive(o.minutes, '--minutes');
  const mix = inRange(o.mix, '--mix', 0, 1);
  const kind = await inspectOutFolder(outDir);
  if (kind === 'leftovers' || (kind === 'model' && !o.resume && !o.force)) {
    throw new GptLabError(
      kind === 'model'
        ? `${outDir} already holds a model. Add --resume to continue it, --force to replace it, or choose another --out.`
        : `${outDir} holds files that are not a GPT Lab model; choose a new or empty folder for --out.`,
      kind === 'model' ? 'MODEL_EXISTS' : 'OUT_NOT_MODEL_FOLDER',
    );
  }

  const { records: examples, problems } = await readExamples(path.resolve(o.data));
  if (problems.length) out.info(formatProblems(o.data, problems));
  out.event('data', { file: path.resolve(o.data), examples: examples.length, problems });
  const backend = await initBackend(o.backend);
  out.info(`backend: ${backend.name}`);
  const corpusFiles = o.corpus
    ? (await readCorpus(path.resolve(o.corpus), { skipDirs: [outDir, parentDir] })).files
    : undefined;

  const lock = acquireFolderLock(outDir, { purpose: 'gpt-lab finetune', onLog: (m) => out.info(m) });
  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    out.info('stopping after this step and saving a checkpoint… (Ctrl+C again to quit now)');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    if (kind === 'model' && o.force && !o.resume) await clearModelFolder(outDir);
    let lastVal = '';
    const r = await finetune({
      parentDir,
      outDir,
      examples,
      dataFile: path.resolve(o.data),
      maxSteps: steps,
      maxMinutes: minutes ?? (steps === undefined && !o.resume ? 1 : undefined),
      learningRate: positive(o.lr, '--lr'),
      batchSize: int(o.batch, '--batch'),
      seed: int(o.seed, '--seed', 0),
      corpusFiles,
      mixShare: mix,
      resume: Boolean(o.resume),
      hooks: {
        shouldStop: () => stopRequested,
        onLog: (m) => out.info(m),
        onEval: (e) => {
          lastVal = ` · val ${e.valLoss.toFixed(3)}, token accuracy ${((e.tokenAccuracy ?? NaN) * 100).toFixed(0)}%`;
          out.event('eval', e);
        },
        onProgress: (p) => {
          out.event('progress', p);
          out.progress(
            p.fraction,
            `step ${p.step} · loss ${p.loss.toFixed(3)}${lastVal} · ${formatRate(p.tokensPerSec)} · ${formatDuration(p.etaMs)} left`,
          );
        },
      },
    });
    out.clear();
    out.info(
      `${r.stopped === 'cancelled' ? 'stopped' : 'done'} at step ${r.step} in ${formatDuration(r.elapsedMs)}: ` +
        `${r.heldOut ? 'held-out' : 'training-example'} loss ${r.initialValLoss.toFixed(3)} → ${r.valLoss.toFixed(3)}, ` +
        `token accuracy ${((r.metrics.tokenAccuracy ?? NaN) * 100).toFixed(1)}%`,
    );
    if (r.comparison)
      out.info(
        `\n${r.heldOut ? 'held-out' : 'training'} examples, before → after:\n${formatComparison(r.comparison)}\n`,
      );
    out.info(`new version saved in ${outDir} (parent ${parentDir})`);
    out.event('done', { ...r, losses: undefined, outDir, parentDir, backend: backend.name });
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    lock.release();
  }
}

/** Beside the parent: `sft-1`, `sft-2`, … */
async function defaultOut(parentDir: string): Promise<string> {
  const root = path.dirname(parentDir);
  const names = await fs.readdir(root).catch(() => [] as string[]);
  return path.join(root, nextVersionName(names, 'sft'));
}
