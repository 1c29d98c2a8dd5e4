import { GptLabError } from '../errors';
import { loadCheckpoint, LoadedCheckpoint, NamedTensors } from '../checkpoint';
import { Tokenizer } from '../tokenizer';
import { GPTConfig, validateConfig } from './config';
import { GPT, parameterNames, parameterShape } from './gpt';

export const CONFIG_FORMAT = 'gpt-lab-config';

/** What config.json holds: the model's shape plus how it was trained (opaque here). */
export interface ModelFolderConfig {
  format: typeof CONFIG_FORMAT;
  model: GPTConfig;
  preset?: string;
  training?: Record<string, unknown>;
  corpus?: Record<string, unknown>;
}

export function toNamedTensors(arrays: Map<string, Float32Array>, shapeOf: (name: string) => number[]): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, data] of arrays) out.set(name, { dtype: 'F32', shape: shapeOf(name), data });
  return out;
}

function bad(dir: string, file: string, problem: string): GptLabError {
  return new GptLabError(
    `${file} in ${dir} ${problem}; the checkpoint cannot be used — delete it and train again.`,
    'BAD_CHECKPOINT',
  );
}

/** Checks config.json, tokenizer.json and the weights agree, and builds the model's inputs. */
export function readModelFolder(
  dir: string,
  ckpt: LoadedCheckpoint,
): {
  config: ModelFolderConfig;
  tokenizer: Tokenizer;
  weights: Map<string, Float32Array>;
} {
  const cfg = ckpt.config as unknown as ModelFolderConfig;
  if (cfg.format !== CONFIG_FORMAT || typeof cfg.model !== 'object' || cfg.model === null) {
    throw bad(dir, 'config.json', `is not a GPT Lab model config (format '${String(cfg.format)}')`);
  }
  try {
    validateConfig(cfg.model);
  } catch (err) {
    throw bad(dir, 'config.json', `is invalid (${(err as Error).message})`);
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromJSON(ckpt.tokenizer);
  } catch (err) {
    throw bad(dir, 'tokenizer.json', `is invalid (${(err as Error).message})`);
  }
  if (tokenizer.vocabSize !== cfg.model.vocabSize) {
    throw bad(dir, 'tokenizer.json', `has ${tokenizer.vocabSize} tokens but config.json says ${cfg.model.vocabSize}`);
  }
  const weights = new Map<string, Float32Array>();
  for (const name of parameterNames(cfg.model)) {
    const t = ckpt.weights.get(name);
    const shape = parameterShape(cfg.model, name);
    if (!t) throw bad(dir, 'model.safetensors', `has no tensor '${name}'`);
    if (t.dtype !== 'F32' || t.shape.join() !== shape.join()) {
      throw bad(dir, 'model.safetensors', `has '${name}' as ${t.dtype}[${t.shape}], expected F32[${shape}]`);
    }
    weights.set(name, t.data as Float32Array);
  }
  return { config: cfg, tokenizer, weights };
}

export interface LoadedModel {
  model: GPT;
  tokenizer: Tokenizer;
  config: ModelFolderConfig;
  checkpoint: LoadedCheckpoint;
}

/** Loads a trained model folder for inference. The caller disposes `model`. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const checkpoint = await loadCheckpoint(dir);
  const { config, tokenizer, weights } = readModelFolder(dir, checkpoint);
  return { model: new GPT(config.model, weights), tokenizer, config, checkpoint };
}
