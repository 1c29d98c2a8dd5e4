import { loadCheckpointConfig } from '../core/checkpoint';
import { acquireFolderLock } from '../core/checkpoint/lock';
import { completionEvalPositions, evaluateModelCompletions } from '../core/complete/modelEval';
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
    const result = await finetune({
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
    // As after pre-training: how the new version completes held-out workspace code, and in which prompt format
    // (the completions it serves use that format at once). Not after a Stop: the user wants the model now.
    if (result.stopped === 'budget' && !stopRequested && p.corpusFiles?.length) {
      emit('log', { message: 'evaluating completions on held-out files…' });
      try {
        const { config } = await loadCheckpointConfig(p.outDir);
        const model = (config as { model: Parameters<typeof completionEvalPositions>[0] }).model;
        const ev = await evaluateModelCompletions(p.outDir, p.corpusFiles, completionEvalPositions(model));
        emit('log', {
          message: `completions: ${(ev.exactMatch * 100).toFixed(1)}% exact rest-of-line, ${(ev.charsSaved * 100).toFixed(1)}% of characters saved (${ev.positions} positions, ${ev.mode})`,
        });
      } catch (err) {
        emit('log', { message: `completion evaluation failed: ${(err as Error).message}` });
      }
    }
    return result;
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
