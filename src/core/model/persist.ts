import { GptLabError } from '../errors';
import { loadCheckpoint, LoadedCheckpoint, NamedTensors } from '../checkpoint';
import { Tokenizer } from '../tokenizer';
import { GPTConfig, validateConfig } from './config';
import { GPT, HeadSpec, parameterNames, parameterShape } from './gpt';

export const CONFIG_FORMAT = 'gpt-lab-config';

/** What config.json holds: the model's shape plus how it was trained (opaque here). */
export interface ModelFolderConfig {
  format: typeof CONFIG_FORMAT;
  model: GPTConfig;
  preset?: string;
  training?: Record<string, unknown>;
  corpus?: Record<string, unknown>;
  /** Parameters beyond GPT-2's (a reward model's `score`, PPO's `v_head`), saved beside the rest. */
  heads?: HeadSpec[];
  /** Which stage made this version, from which parent, on what data, with what results (see versions.ts). */
  lineage?: Record<string, unknown>;
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
  const format: unknown = cfg.format;
  if (typeof format === 'string' && format !== CONFIG_FORMAT && format.startsWith(CONFIG_FORMAT)) {
    throw new GptLabError(
      `config.json in ${dir} has format '${format}' (this GPT Lab reads '${CONFIG_FORMAT}'): the model was saved ` +
        'by another version of GPT Lab. Open it with that version; the folder is left as it is.',
      'BAD_CHECKPOINT',
    );
  }
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
  for (const h of headSpecs(dir, cfg)) {
    const t = ckpt.weights.get(h.name);
    if (!t) throw bad(dir, 'model.safetensors', `has no tensor '${h.name}' (a head config.json lists)`);
    if (t.dtype !== 'F32' || t.shape.join() !== h.shape.join()) {
      throw bad(dir, 'model.safetensors', `has '${h.name}' as ${t.dtype}[${t.shape}], expected F32[${h.shape}]`);
    }
    weights.set(h.name, t.data as Float32Array);
  }
  return { config: cfg, tokenizer, weights };
}

function headSpecs(dir: string, cfg: ModelFolderConfig): HeadSpec[] {
  const heads = cfg.heads ?? [];
  const gpt2 = new Set(parameterNames(cfg.model));
  const ok = (h: HeadSpec) =>
    typeof h?.name === 'string' &&
    !gpt2.has(h.name) &&
    Array.isArray(h.shape) &&
    h.shape.every((d) => Number.isSafeInteger(d) && d > 0);
  if (!Array.isArray(heads) || !heads.every(ok)) throw bad(dir, 'config.json', 'has an invalid list of heads');
  return heads;
}

export interface LoadedModel {
  model: GPT;
  tokenizer: Tokenizer;
  config: ModelFolderConfig;
  checkpoint: LoadedCheckpoint;
}

/** Loads a trained model folder (for inference, or frozen as a reference with trainable false). The caller disposes `model`. */
export async function loadModel(dir: string, opts: { trainable?: boolean } = {}): Promise<LoadedModel> {
  const checkpoint = await loadCheckpoint(dir);
  const { config, tokenizer, weights } = readModelFolder(dir, checkpoint);
  const model = new GPT(config.model, weights, { heads: config.heads, trainable: opts.trainable });
  return { model, tokenizer, config, checkpoint };
}
