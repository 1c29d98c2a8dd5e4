import { existsSync, promises as fs } from 'node:fs';
import type { TrainResult } from '../core/train/trainer';
import { pretrainAndEvaluate } from '../core/train/pretrainAndEvaluate';
import { GptLabError } from '../core/errors';
import type { WorkerRequests } from '../protocol/worker';
import { Emit, logCompletions, WorkerJob } from './job';
import { acquireFolderLock, clearModelFolder } from '../core/checkpoint';

const job = new WorkerJob('A training run is already in progress. Stop it first.');

/** One training run at a time; progress, evaluations and checkpoints stream to the host as events. */
export async function runTraining(p: WorkerRequests['train'][0], emit: Emit): Promise<TrainResult> {
  // Two windows on one workspace share its model folder, and the CLI may train into it too: one at a time.
  return job.run(p.modelDir, 'GPT Lab training in a VS Code window', emit, async (hooks) => {
    const { result, ...completions } = await pretrainAndEvaluate({
      files: p.corpus.files,
      config: p.config,
      outDir: p.modelDir,
      resume: p.resume,
      corpusSummary: { root: p.corpus.root, ...p.corpus.summary, languageIds: p.corpus.languageIds },
      hooks,
    });
    logCompletions(emit, completions);
    return result;
  });
}

export function stopTraining(): boolean {
  return job.stop();
}

/** Delete Model: everything GPT Lab wrote in the folder goes; refused while this worker trains into it. */
export async function deleteModel(p: WorkerRequests['deleteModel'][0]): Promise<WorkerRequests['deleteModel'][1]> {
  if (job.running)
    throw new GptLabError('GPT Lab is training this model. Stop training first, then delete it.', 'BUSY');
  if (!existsSync(p.modelDir)) return { deleted: false };
  // Not from under a run in another window: it would save into a folder that no longer holds its model.
  const lock = acquireFolderLock(p.modelDir, { purpose: 'GPT Lab deleting the model' });
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
