import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveCheckpoint } from '../../../src/core/checkpoint';
import { GPTConfig } from '../../../src/core/model/config';
import { HeadSpec, initialWeights, parameterShape } from '../../../src/core/model/gpt';
import { CONFIG_FORMAT, toNamedTensors } from '../../../src/core/model/persist';
import { Rng } from '../../../src/core/rng';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { defaultTrainConfig } from '../../../src/core/train/config';
import { codeFiles } from '../helpers/tf';

export async function tmp(prefix = 'gpt-lab-interop-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * A model folder as training leaves it, without training: a tokenizer learned on small code files and weights
 * with noise on every tensor (biases and LayerNorm gains too), so a parity check exercises each of them.
 */
export async function makeModelFolder(
  dir: string,
  model: Omit<GPTConfig, 'vocabSize'> & { vocabSize?: number },
  opts: { heads?: HeadSpec[]; corpusRoot?: string; seed?: number } = {},
): Promise<GPTConfig> {
  const tok = trainTokenizer(
    codeFiles(3).map((f) => f.bytes),
    { vocabSize: model.vocabSize ?? 300 },
  );
  const config = { ...model, vocabSize: tok.vocabSize } as GPTConfig;
  const weights = initialWeights(config, opts.seed ?? 3);
  const rng = new Rng(opts.seed ?? 7);
  for (const w of weights.values()) for (let i = 0; i < w.length; i++) w[i] += rng.normal() * 0.05;
  const shapes = new Map<string, number[]>();
  for (const h of opts.heads ?? []) {
    weights.set(
      h.name,
      Float32Array.from({ length: h.shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    );
    shapes.set(h.name, h.shape);
  }
  const training = defaultTrainConfig('tiny', { model: config, maxSteps: 10, maxMinutes: undefined, fimRate: 0 });
  await saveCheckpoint(dir, {
    config: {
      format: CONFIG_FORMAT,
      model: config,
      training,
      ...(opts.heads && { heads: opts.heads }),
      ...(opts.corpusRoot && { corpus: { root: opts.corpusRoot } }),
    },
    tokenizer: tok.toJSON(),
    weights: toNamedTensors(weights, (n) => shapes.get(n) ?? parameterShape(config, n)),
    step: 3,
  });
  return config;
}

/** A folder of small source files to tokenize into train.bin / val.bin. */
export async function corpusFolder(): Promise<string> {
  const dir = await tmp('gpt-lab-interop-corpus-');
  for (const f of codeFiles(4)) {
    await fs.mkdir(path.join(dir, path.dirname(f.path)), { recursive: true });
    await fs.writeFile(path.join(dir, f.path), f.bytes);
  }
  return dir;
}
