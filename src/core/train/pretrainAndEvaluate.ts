import { onGenerationBackend } from '../backend';
import { loadCheckpointConfig } from '../checkpoint';
import { EvaluationStopped } from '../complete/evaluate';
import { completionEvalPositions, evaluateModelCompletions, SavedCompletionEval } from '../complete/modelEval';
import type { GPTConfig } from '../model/config';
import { pretrain, TrainRequest, TrainResult } from './trainer';

export interface PretrainAndEvaluateRequest extends TrainRequest {
  outDir: string;
  /** false: no held-out completion check after training (it costs seconds even on a tiny run). */
  completions?: boolean;
}

export interface PretrainOutcome {
  result: TrainResult;
  /** The held-out completion figures, saved in the model folder as completion-eval.json. */
  completions?: SavedCompletionEval;
  /** Why the completion check failed; the trained model is saved all the same. */
  completionsError?: Error;
}

/**
 * Stage 1 as both front doors run it (gpt-lab train and the extension's worker): pre-train, then — when the
 * run finished its budget and nobody asked to stop — measure completions on held-out files and save them next
 * to the model, so it serves completions in its better prompt format at once.
 */
export async function pretrainAndEvaluate(req: PretrainAndEvaluateRequest): Promise<PretrainOutcome> {
  const result = await pretrain(req);
  // Stop means stop: the held-out evaluation takes a while and the user has asked for the model now.
  if (result.stopped !== 'budget' || req.completions === false || req.hooks?.shouldStop?.()) return { result };
  return {
    result,
    ...(await evaluateHeldOutCompletions(req.outDir, req.files, req.hooks?.onLog, req.hooks?.shouldStop)),
  };
}

/**
 * After a stage finished its budget: how the saved model in `outDir` completes held-out files of `files`,
 * saved next to it (completion-eval.json). A failure is returned, not thrown: the trained model stands.
 */
export async function evaluateHeldOutCompletions(
  outDir: string,
  files: { path: string; bytes: Uint8Array }[],
  onLog?: (message: string) => void,
  /** Stop during the check ends it promptly, with neither figures nor an error (the model stands). */
  shouldStop?: () => boolean,
): Promise<Omit<PretrainOutcome, 'result'>> {
  onLog?.('evaluating completions on held-out files…');
  try {
    // The saved model's shape: on resume the request's config holds only a budget.
    const shape = (await loadCheckpointConfig(outDir)).config.model as GPTConfig;
    const positions = completionEvalPositions(shape);
    return {
      completions: await onGenerationBackend(() => evaluateModelCompletions(outDir, files, positions, { shouldStop })),
    };
  } catch (err) {
    if (err instanceof EvaluationStopped) return {};
    return { completionsError: err instanceof Error ? err : new Error(String(err)) };
  }
}
