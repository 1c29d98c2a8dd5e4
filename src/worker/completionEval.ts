import * as path from 'node:path';
import { writeFileAtomic } from '../core/checkpoint';
import { CompletionEval, evaluateCompletions, fimPrompt, trimCompletion } from '../core/complete';
import { splitByFile } from '../core/corpus';
import { loadModel } from '../core/model/persist';
import { generate, Generator } from '../core/sample';
import type { TrainConfig } from '../core/train/config';

export const COMPLETION_EVAL_FILE = 'completion-eval.json';

/**
 * After training: how often the model's single-line suggestion equals the real rest of the line, on held-out
 * files of the workspace, and what share of characters it would have saved. Saved next to the model.
 */
export async function evaluateModelCompletions(
  modelDir: string,
  files: { path: string; bytes: Uint8Array }[],
  positions = 100,
): Promise<CompletionEval> {
  const { model, tokenizer, config } = await loadModel(modelDir);
  const generator = new Generator(model);
  try {
    const training = (config.training ?? {}) as Partial<TrainConfig>;
    const { val } = splitByFile(files, training.valFraction ?? 0.1, training.seed ?? 1337);
    const held = (val.length ? val : files).map((f) => ({ path: f.path, text: new TextDecoder().decode(f.bytes) }));
    const fim = (training.fimRate ?? 0) > 0;
    const maxNewTokens = 24;
    const complete = (prefix: string, suffix: string) => {
      const prompt = fimPrompt(tokenizer, prefix, suffix, {
        contextLength: model.config.contextLength,
        maxNewTokens,
        fim,
      });
      const r = generate(model, tokenizer, prompt.ids, {
        maxTokens: maxNewTokens,
        temperature: 0,
        stop: ['\n'],
        generator,
      });
      const lineStart = prefix.lastIndexOf('\n') + 1;
      return trimCompletion(r.text, {
        linePrefix: prefix.slice(lineStart),
        lineSuffix: '',
        previousLines: [],
        nextLines: [],
        multiline: false,
      });
    };
    const result = await evaluateCompletions(complete, held, { positions, seed: training.seed ?? 1337 });
    await writeFileAtomic(path.join(modelDir, COMPLETION_EVAL_FILE), JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    generator.dispose();
    model.dispose();
  }
}
