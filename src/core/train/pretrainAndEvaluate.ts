import { loadCheckpointConfig } from '../checkpoint';
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
  req.hooks?.onLog?.('evaluating completions on held-out files…');
  try {
    // The saved model's shape: on resume the request's config holds only a budget.
    const shape = (await loadCheckpointConfig(req.outDir)).config.model as GPTConfig;
    const completions = await evaluateModelCompletions(req.outDir, req.files, completionEvalPositions(shape));
    return { result, completions };
  } catch (err) {
    return { result, completionsError: err instanceof Error ? err : new Error(String(err)) };
  }
}
