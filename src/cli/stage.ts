import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BackendPreference, initBackend } from '../core/backend';
import { acquireFolderLock, checkpointExists } from '../core/checkpoint';
import { clearModelFolder, inspectOutFolder } from '../core/checkpoint/modelFolder';
import { GptLabError } from '../core/errors';
import type { EvalResult, TrainHooks } from '../core/train/loop';
import { nextVersionName } from '../core/versions';
import { progressText } from '../protocol/format';
import { formatDuration, Output } from './output';
import { stopOnSignal } from './stopSignal';

/** The options every later stage's command shares. */
export interface StageCliOptions {
  model: string;
  out?: string;
  steps?: string;
  minutes?: string;
  lr?: string;
  batch?: string;
  seed?: string;
  resume?: boolean;
  force?: boolean;
  backend: BackendPreference;
  json?: boolean;
}

export interface StageContext {
  out: Output;
  parentDir: string;
  outDir: string;
  hooks: TrainHooks;
}

/**
 * What `finetune`, `reward`, `dpo` and `ppo` do around their stage, as `train` does: check the parent and the
 * output folder (new, empty, or a model only with --resume / --force), take its lock, stop at a step boundary on
 * Ctrl+C (twice: at once), print progress (or --json events), and end with a `done` event.
 */
export async function runStageCommand<R extends { stopped: string; step: number; elapsedMs: number }>(
  o: StageCliOptions,
  stage: string,
  describe: (e: EvalResult) => string,
  run: (ctx: StageContext) => Promise<R>,
  summary: (r: R, out: Output) => void,
): Promise<void> {
  const out = new Output(Boolean(o.json));
  const parentDir = path.resolve(o.model);
  if (!checkpointExists(parentDir)) {
    throw new GptLabError(
      `There is no trained model in ${parentDir}. Train one first (gpt-lab train).`,
      'NO_CHECKPOINT',
    );
  }
  const outDir = path.resolve(o.out ?? (await defaultOut(parentDir, stage)));
  if (outDir === parentDir) {
    throw new GptLabError('A stage writes a new version beside its parent: choose another --out.', 'SAME_FOLDER');
  }
  const kind = await inspectOutFolder(outDir);
  if (kind === 'model' && !o.resume && !o.force) {
    throw new GptLabError(
      `${outDir} already holds a model. Add --resume to continue it, --force to replace it, or choose another --out.`,
      'MODEL_EXISTS',
    );
  }
  const backend = await initBackend(o.backend, { readsAsync: true }); // every stage reads asynchronously
  out.info(`backend: ${backend.name}${backend.skipped.length ? ` (skipped ${backend.skipped.join('; ')})` : ''}`);
  const lock = acquireFolderLock(outDir, { purpose: `gpt-lab ${stage}`, onLog: (m) => out.info(m) });
  const stop = stopOnSignal(out);
  try {
    if ((kind === 'model' || kind === 'leftovers') && !o.resume) await clearModelFolder(outDir);
    let lastVal = '';
    const hooks: TrainHooks = {
      shouldStop: () => stop.requested,
      onLog: (m) => out.info(m),
      onEval: (e) => {
        lastVal = ` · ${describe(e)}`;
        out.event('eval', e);
      },
      onProgress: (p) => {
        out.event('progress', p);
        out.progress(p.fraction, progressText(p, { step: true, figures: `loss ${p.loss.toFixed(3)}${lastVal}` }));
      },
    };
    const r = await run({ out, parentDir, outDir, hooks });
    out.clear();
    out.info(`${r.stopped === 'cancelled' ? 'stopped' : 'done'} at step ${r.step} in ${formatDuration(r.elapsedMs)}`);
    summary(r, out);
    out.info(`new version saved in ${outDir} (parent ${parentDir})`);
    out.event('done', { ...r, losses: undefined, outDir, parentDir, backend: backend.name });
  } finally {
    stop.dispose();
    lock.release();
  }
}

/** Beside the parent: `<stage>-1`, `<stage>-2`, … */
async function defaultOut(parentDir: string, stage: string): Promise<string> {
  const root = path.dirname(parentDir);
  const names = await fs.readdir(root).catch(() => [] as string[]);
  return path.join(root, nextVersionName(names, stage));
}

export const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : `${(x * 100).toFixed(1)}%`);
