import { onGenerationBackend } from '../backend';
import * as path from 'node:path';
import { appendHistory, loadCheckpointConfig, readHistory, writeFileAtomic } from '../checkpoint';
import { splitByFile } from '../corpus';
import { EvaluationStopped } from '../complete/evaluate';
import { completionEvalPositions, evaluateModelCompletions, SavedCompletionEval } from '../complete/modelEval';
import { GPTConfig, parameterCount } from '../model/config';
import type { TrainConfig } from './config';
import { heldOutBitsPerByteOfFolder, HeldOutResult } from './heldOut';
import { pretrain, TrainRequest, TrainResult } from './trainer';

export interface PretrainAndEvaluateRequest extends TrainRequest {
  outDir: string;
  /** false: no held-out completion check after training (it costs seconds even on a tiny run). */
  completions?: boolean;
  /** false: no final held-out bits per byte (every held-out token with a full context) after training. */
  heldOut?: boolean;
}

export interface PretrainOutcome {
  result: TrainResult;
  /** The held-out completion figures, saved in the model folder as completion-eval.json. */
  completions?: SavedCompletionEval;
  /** Why the completion check failed; the trained model is saved all the same. */
  completionsError?: Error;
  /** The final held-out bits per byte (heldOut.ts), also appended to history.jsonl as `heldOutBpb`. */
  heldOut?: HeldOutResult;
}

/**
 * Tokens the final held-out measure scores at most: 32k on the tiny preset (a few seconds of 2 cores), fewer in
 * proportion to a larger model's parameters (its cost per token), at least 4k. A larger held-out set is measured
 * on evenly spaced segments of it (`gpt-lab eval` measures up to 256k tokens).
 */
export function finalHeldOutTokens(parameters: number): number {
  return Math.max(4096, Math.min(32_768, Math.round((32_768 * 360_000) / Math.max(1, parameters))));
}

/**
 * Stage 1 as both front doors run it (gpt-lab train and the extension's worker): pre-train, then — when the
 * run finished its budget and nobody asked to stop — measure completions on held-out files and save them next
 * to the model, so it serves completions in its better prompt format at once.
 */
export async function pretrainAndEvaluate(req: PretrainAndEvaluateRequest): Promise<PretrainOutcome> {
  const result = await pretrain(req);
  // Stop means stop: the held-out evaluation takes a while and the user has asked for the model now.
  if (result.stopped !== 'budget' || req.hooks?.shouldStop?.()) return { result };
  const heldOut = req.heldOut === false ? undefined : await finalHeldOut(req);
  if (req.completions === false || req.hooks?.shouldStop?.()) return { result, ...(heldOut && { heldOut }) };
  return {
    result,
    ...(heldOut && { heldOut }),
    ...(await evaluateHeldOutCompletions(req.outDir, req.files, req.hooks?.onLog, req.hooks?.shouldStop)),
  };
}

/**
 * The saved model's bits per byte on the held-out files, every token predicted from at least half a context
 * (the training curve samples windows that start from nothing), appended to history.jsonl for Model Info.
 */
async function finalHeldOut(req: PretrainAndEvaluateRequest): Promise<HeldOutResult | undefined> {
  req.hooks?.onLog?.('measuring held-out bits per byte…');
  try {
    // The saved run's split: on resume the request's config holds only a budget.
    const saved = await loadCheckpointConfig(req.outDir);
    const t = (saved.config.training ?? {}) as Partial<TrainConfig>;
    const { train, val } = splitByFile(req.files, t.valFraction ?? 0.1, t.splitSeed ?? t.seed ?? 1337);
    const files = (val.length ? val : train).map((f) => f.bytes); // as corpusDataset holds out
    const r = await heldOutBitsPerByteOfFolder(req.outDir, files, {
      maxTokens: finalHeldOutTokens(parameterCount(saved.config.model as GPTConfig)),
      shouldStop: req.hooks?.shouldStop,
    });
    if (r) {
      await recordInHistory(req.outDir, saved.step, {
        heldOutBpb: r.bitsPerByte,
        heldOutLoss: r.loss,
        heldOutScored: r.scoredTokens,
        heldOutTokens: r.totalTokens,
        heldOutMinContext: r.minContext,
      });
    }
    return r;
  } catch (err) {
    // A figure, not the model: the trained model stands, and the log says why the figure is missing.
    req.hooks?.onLog?.(`held-out bits per byte could not be measured: ${err instanceof Error ? err.message : err}`);
    return undefined;
  }
}

/**
 * Adds `fields` to history.jsonl's record of `step` (the run's last, which the loop wrote), so no step appears
 * twice; appends a record if there is none. The run is over and its folder locked: the rewrite is atomic.
 */
async function recordInHistory(dir: string, step: number, fields: Record<string, number>): Promise<void> {
  const { records } = await readHistory(dir);
  const i = records.map((r) => r.step).lastIndexOf(step);
  if (i < 0) return appendHistory(dir, { step, ...fields });
  records[i] = { ...records[i], ...fields };
  await writeFileAtomic(path.join(dir, 'history.jsonl'), records.map((r) => JSON.stringify(r) + '\n').join(''));
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
