import * as path from 'node:path';
import { writeFileAtomic } from '../checkpoint';
import { CompletionEval, evaluateCompletions, trimCompletion } from '.';
import { splitByFile } from '../corpus';
import { GPTConfig, parameterCount } from '../model/config';
import { loadModel } from '../model/persist';
import { Generator } from '../sample';
import type { TrainConfig } from '../train/config';
import { completeAt } from './completeAt';

export const COMPLETION_EVAL_FILE = 'completion-eval.json';

/** Cursor positions for the held-out completion check: fewer for big models, whose completions cost more. */
export function completionEvalPositions(model: GPTConfig): number {
  return parameterCount(model) > 5e6 ? 30 : 100;
}

/** completion-eval.json: the better prompt format's figures, which format that is, and both formats' figures. */
export interface SavedCompletionEval extends CompletionEval {
  mode: 'fim' | 'prefix';
  modes: { prefix: Omit<CompletionEval, 'examples'>; fim?: Omit<CompletionEval, 'examples'> };
}

const summary = ({ examples: _examples, ...rest }: CompletionEval) => rest;

/**
 * After training: how often the model's single-line suggestion equals the real rest of the line, on held-out
 * files of the workspace, and what share of characters it would have saved. Saved next to the model.
 * `shouldStop` is asked between positions and during each generation: true ends it with EvaluationStopped,
 * saving nothing.
 */
export async function evaluateModelCompletions(
  modelDir: string,
  files: { path: string; bytes: Uint8Array }[],
  positions = 100,
  opts: { shouldStop?: () => boolean } = {},
): Promise<SavedCompletionEval> {
  const { model, tokenizer, config } = await loadModel(modelDir);
  const generator = new Generator(model);
  try {
    const training = (config.training ?? {}) as Partial<TrainConfig>;
    const { val } = splitByFile(files, training.valFraction ?? 0.1, training.splitSeed ?? training.seed ?? 1337);
    const held = (val.length ? val : files).map((f) => ({ path: f.path, text: new TextDecoder().decode(f.bytes) }));
    const complete = (fim: boolean) => async (prefix: string, suffix: string) => {
      const r = await completeAt(model, tokenizer, prefix, suffix, {
        fim,
        maxTokens: 24,
        multiline: false,
        generator,
        shouldStop: opts.shouldStop,
      });
      const lineStart = prefix.lastIndexOf('\n') + 1;
      const context = {
        linePrefix: prefix.slice(lineStart),
        lineSuffix: '',
        previousLines: [],
        nextLines: [],
        multiline: false,
      };
      return trimCompletion(r.text, context);
    };
    const evalOpts = { positions, seed: training.seed ?? 1337, shouldStop: opts.shouldStop };
    // A model trained with FIM may still complete better from the prefix alone (early in training FIM lags):
    // measure both prompt formats on the same positions and serve completions with the better one.
    const prefixOnly = await evaluateCompletions(complete(false), held, evalOpts);
    const withFim = (training.fimRate ?? 0) > 0 ? await evaluateCompletions(complete(true), held, evalOpts) : undefined;
    const score = (e: CompletionEval) => e.exactMatch + e.charsSaved;
    // FIM has to win clearly: on a handful of held-out files, small differences are noise.
    const best = withFim && score(withFim) > 1.2 * score(prefixOnly) + 0.005 ? withFim : prefixOnly;
    const result: SavedCompletionEval = {
      ...best,
      mode: best === withFim ? 'fim' : 'prefix',
      modes: { prefix: summary(prefixOnly), ...(withFim && { fim: summary(withFim) }) },
    };
    await writeFileAtomic(path.join(modelDir, COMPLETION_EVAL_FILE), JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    generator.dispose();
    model.dispose();
  }
}
