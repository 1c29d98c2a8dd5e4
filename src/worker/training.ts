import { pretrain, TrainResult } from '../core/train/trainer';
import { GptLabError } from '../core/errors';
import { completionEvalPositions, evaluateModelCompletions } from '../core/complete/modelEval';
import type { WorkerEvent, WorkerRequests } from '../protocol/worker';
import { clearModelFolder } from './modelFolder';

let running = false;
let stopRequested = false;

/** One training run at a time; progress, evaluations and checkpoints stream to the host as events. */
export async function runTraining(
  p: WorkerRequests['train'][0],
  emit: (event: WorkerEvent['event'], data: WorkerEvent['data']) => void,
): Promise<TrainResult> {
  if (running) throw new GptLabError('A training run is already in progress. Stop it first.', 'BUSY');
  running = true;
  stopRequested = false;
  let lastProgress = 0;
  try {
    const result = await pretrain({
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
    // Stop means stop: the held-out evaluation takes a while and the user has asked for the model now.
    if (result.stopped === 'cancelled' || stopRequested) return result;
    emit('log', { message: 'evaluating completions on held-out files…' });
    try {
      const ev = await evaluateModelCompletions(p.modelDir, p.corpus.files, completionEvalPositions(p.config.model));
      emit('log', {
        message: `completions: ${(ev.exactMatch * 100).toFixed(1)}% exact rest-of-line, ${(ev.charsSaved * 100).toFixed(1)}% of characters saved (${ev.positions} positions)`,
      });
    } catch (err) {
      emit('log', { message: `completion evaluation failed: ${(err as Error).message}` });
    }
    return result;
  } finally {
    running = false;
  }
}

export function stopTraining(): boolean {
  if (!running) return false;
  stopRequested = true;
  return true;
}

/** Delete Model: everything GPT Lab wrote in the folder goes; refused while this worker trains into it. */
export async function deleteModel(p: WorkerRequests['deleteModel'][0]): Promise<WorkerRequests['deleteModel'][1]> {
  if (running) throw new GptLabError('GPT Lab is training this model. Stop training first, then delete it.', 'BUSY');
  await clearModelFolder(p.modelDir);
  return { deleted: true };
}
