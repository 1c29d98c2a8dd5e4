import { acquireFolderLock } from '../core/checkpoint/lock';
import { GptLabError } from '../core/errors';
import { finetune } from '../core/train/finetune';
import type { FinetuneOutcome, FinetuneParams, WorkerEvent } from '../protocol/worker';

let running = false;
let stopRequested = false;

/**
 * Stage 2 as a worker job, beside training.ts: one run at a time, the new version's folder locked (another window
 * or the CLI cannot write it meanwhile), progress and held-out evaluations streamed as events.
 */
export async function runFinetune(
  p: FinetuneParams,
  emit: (event: WorkerEvent['event'], data: WorkerEvent['data']) => void,
): Promise<FinetuneOutcome> {
  if (running) throw new GptLabError('A fine-tuning run is already in progress. Stop it first.', 'BUSY');
  const lock = acquireFolderLock(p.outDir, {
    purpose: 'GPT Lab fine-tuning in a VS Code window',
    onLog: (message) => emit('log', { message }),
  });
  running = true;
  stopRequested = false;
  let lastProgress = 0;
  try {
    return await finetune({
      parentDir: p.parentDir,
      outDir: p.outDir,
      examples: p.examples,
      dataFile: p.dataFile,
      maxSteps: p.maxSteps,
      maxMinutes: p.maxMinutes,
      learningRate: p.learningRate,
      corpusFiles: p.corpusFiles,
      mixShare: p.mixShare,
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
  } finally {
    lock.release();
    running = false;
  }
}

/** Asks a running fine-tuning to stop at the next step boundary and save; false when none runs. */
export function stopFinetune(): boolean {
  if (!running) return false;
  stopRequested = true;
  return true;
}

export function finetuning(): boolean {
  return running;
}
