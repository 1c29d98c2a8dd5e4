import { evaluateHeldOutCompletions } from '../core/train/pretrainAndEvaluate';
import { finetune } from '../core/train/finetune';
import type { FinetuneOutcome, FinetuneParams } from '../protocol/worker';
import { Emit, logCompletions, WorkerJob } from './job';

const job = new WorkerJob('A fine-tuning run is already in progress. Stop it first.');

/**
 * Stage 2 as a worker job, beside training.ts: one run at a time, the new version's folder locked (another window
 * or the CLI cannot write it meanwhile), progress and held-out evaluations streamed as events.
 */
export async function runFinetune(p: FinetuneParams, emit: Emit): Promise<FinetuneOutcome> {
  return job.run(p.outDir, 'GPT Lab fine-tuning in a VS Code window', emit, async (hooks) => {
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
      hooks,
    });
    // As after pre-training: how the new version completes held-out workspace code, and in which prompt format
    // (the completions it serves use that format at once). Not after a Stop: the user wants the model now.
    if (result.stopped === 'budget' && !job.stopping && p.corpusFiles?.length) {
      logCompletions(
        emit,
        await evaluateHeldOutCompletions(p.outDir, p.corpusFiles, (m) => emit('log', { message: m }), hooks.shouldStop),
      );
    }
    return result;
  });
}

/** Asks a running fine-tuning to stop at the next step boundary and save; false when none runs. */
export function stopFinetune(): boolean {
  return job.stop();
}

export function finetuning(): boolean {
  return job.running;
}
