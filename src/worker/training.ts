import { existsSync, promises as fs } from 'node:fs';
import type { TrainResult } from '../core/train/trainer';
import { pretrainAndEvaluate } from '../core/train/pretrainAndEvaluate';
import { GptLabError } from '../core/errors';
import type { WorkerEvent, WorkerRequests } from '../protocol/worker';
import { acquireFolderLock, clearModelFolder, FolderLock } from '../core/checkpoint';

let running = false;
let stopRequested = false;

/** One training run at a time; progress, evaluations and checkpoints stream to the host as events. */
export async function runTraining(
  p: WorkerRequests['train'][0],
  emit: (event: WorkerEvent['event'], data: WorkerEvent['data']) => void,
): Promise<TrainResult> {
  if (running) throw new GptLabError('A training run is already in progress. Stop it first.', 'BUSY');
  // Two windows on one workspace share its model folder, and the CLI may train into it too: one at a time.
  const lock = lockFolder(p.modelDir, 'GPT Lab training in a VS Code window', emit);
  running = true;
  stopRequested = false;
  let lastProgress = 0;
  try {
    const {
      result,
      completions: ev,
      completionsError,
    } = await pretrainAndEvaluate({
      files: p.corpus.files,
      config: p.config,
      outDir: p.modelDir,
      resume: p.resume,
      corpusSummary: { root: p.corpus.root, ...p.corpus.summary, languageIds: p.corpus.languageIds },
      hooks: {
        shouldStop: () => stopRequested,
        onLog: (message) => emit('log', { message }),
        onEval: (e) => emit('eval', e),
        onCheckpoint: (step) => emit('checkpoint', { step }),
        onProgress: (pr) => {
          // At most ~10 progress messages a second: the host only redraws.
          const now = Date.now();
          if (now - lastProgress >= 100 || pr.fraction >= 1) {
            lastProgress = now;
            emit('progress', pr);
          }
        },
      },
    });
    if (ev) {
      emit('log', {
        message: `completions: ${(ev.exactMatch * 100).toFixed(1)}% exact rest-of-line, ${(ev.charsSaved * 100).toFixed(1)}% of characters saved (${ev.positions} positions)`,
      });
    }
    if (completionsError) emit('log', { message: `completion evaluation failed: ${completionsError.message}` });
    return result;
  } finally {
    lock.release();
    running = false;
  }
}

/** Takes the model folder's lock; LOCKED (naming who holds it) when another window or process does. */
function lockFolder(
  dir: string,
  purpose: string,
  emit: (event: WorkerEvent['event'], data: WorkerEvent['data']) => void,
): FolderLock {
  return acquireFolderLock(dir, { purpose, onLog: (message) => emit('log', { message }) });
}

export function stopTraining(): boolean {
  if (!running) return false;
  stopRequested = true;
  return true;
}

/** Delete Model: everything GPT Lab wrote in the folder goes; refused while this worker trains into it. */
export async function deleteModel(p: WorkerRequests['deleteModel'][0]): Promise<WorkerRequests['deleteModel'][1]> {
  if (running) throw new GptLabError('GPT Lab is training this model. Stop training first, then delete it.', 'BUSY');
  if (!existsSync(p.modelDir)) return { deleted: false };
  // Not from under a run in another window: it would save into a folder that no longer holds its model.
  const lock = lockFolder(p.modelDir, 'GPT Lab deleting the model', () => undefined);
  try {
    await clearModelFolder(p.modelDir);
  } finally {
    lock.release();
  }
  // The folder goes too when nothing of the user's is left in it.
  await fs.rmdir(p.modelDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST' && e.code !== 'ENOENT') throw e;
  });
  return { deleted: true };
}
