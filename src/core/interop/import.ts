/**
 * `gpt-lab import`: a folder from the Python side into a GPT Lab model version —
 *   - GPT Lab's own export, or what scale/train_ddp.py wrote from one (config.json with `gpt_lab`, tokenizer.json);
 *   - a GPT-2-layout checkpoint: Hugging Face config.json + model.safetensors (F32/F16/BF16/F64) with GPT-2's
 *     `vocab.json` + `merges.txt` or a Hugging Face byte-level BPE `tokenizer.json`. Its ids are mapped onto
 *     GPT Lab's layout (gpt2Vocab.ts) by permuting the embedding rows (and an untied head's columns); the FIM
 *     specials, which GPT-2 lacks, get the mean embedding row.
 * Every expected tensor must be there with its shape; an unknown tensor, a shape the config does not imply, a
 * truncated file or a non-finite weight is refused (BAD_IMPORT) naming the tensor. Only fixed file names are
 * read from the source and written into the version folder.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { checkpointExists, clearModelFolder, inspectOutFolder, NamedTensors, saveCheckpoint } from '../checkpoint';
import { GptLabError } from '../errors';
import { GPTConfig, validateConfig } from '../model/config';
import { parameterNames, parameterShape } from '../model/gpt';
import { sinusoids } from '../model/ops';
import { CONFIG_FORMAT, ModelFolderConfig } from '../model/persist';
import { Tokenizer } from '../tokenizer';
import { defaultTrainConfig } from '../train/config';
import { badImport } from './errors';
import { mapGpt2Vocabulary, MappedTokenizer, parseGpt2Files, parseHfTokenizerJson } from './gpt2Vocab';
import { configFromHf, EXPORT_FORMAT, HF_PREFIX, isHfBuffer, recipeOf, transpose } from './hfLayout';
import { FloatTensor, readFloatSafetensors } from './safetensorsRead';

export interface ImportRequest {
  fromDir: string;
  outDir: string;
  /** Replace a model already in outDir. */
  force?: boolean;
  onLog?: (message: string) => void;
}

export interface ImportResult {
  outDir: string;
  kind: 'gpt-lab-export' | 'gpt2';
  config: GPTConfig;
  step: number;
  /** GPT Lab id → GPT-2 id for a GPT-2 import (-1 for a token GPT-2 has no row for). */
  toGpt2?: Int32Array;
  notes: string[];
}

export async function importModel(req: ImportRequest): Promise<ImportResult> {
  const from = path.resolve(req.fromDir);
  const outDir = path.resolve(req.outDir);
  if (from === outDir) throw new GptLabError('Import into a new folder, not the folder imported from.', 'SAME_FOLDER');
  if (!existsSync(from) || !(await fs.stat(from)).isDirectory()) {
    throw badImport(`${from} is not a folder: give the folder holding config.json and model.safetensors.`);
  }
  const kind = await inspectOutFolder(outDir);
  if (kind === 'model' && !req.force) {
    throw new GptLabError(
      `${outDir} already holds a model: add --force to replace it, or choose another --out.`,
      'MODEL_EXISTS',
    );
  }
  const hf = await readJson(from, 'config.json');
  const tensors = await readWeights(from);
  const notes: string[] = [];
  const gptLab = hf.gpt_lab as Record<string, unknown> | undefined;
  const built =
    gptLab?.format === EXPORT_FORMAT
      ? await fromGptLabExport(from, outDir, hf, gptLab, tensors, notes)
      : await fromGpt2(from, hf, tensors, notes);
  for (const [name, w] of built.weights) {
    const bad = w.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw badImport(`model.safetensors: tensor '${name}' holds ${w[bad]} at index ${bad}.`);
  }
  const weights: NamedTensors = new Map();
  for (const [name, data] of built.weights) {
    const head = built.heads.find((h) => h.name === name);
    weights.set(name, { dtype: 'F32', shape: head ? head.shape : parameterShape(built.config, name), data });
  }
  const folder: ModelFolderConfig = {
    format: CONFIG_FORMAT,
    model: built.config,
    ...(built.heads.length > 0 && { heads: built.heads }),
    training: built.training,
    ...(built.corpus && { corpus: built.corpus }),
    lineage: {
      stage: 'import',
      ...(built.parent && { parent: built.parent }),
      data: { from, kind: built.kind, ...built.data },
      metrics: built.metrics,
      step: built.step,
      date: new Date().toISOString(),
    },
  };
  await fs.mkdir(outDir, { recursive: true });
  if (kind === 'model' || kind === 'leftovers') await clearModelFolder(outDir);
  await saveCheckpoint(outDir, { config: folder, tokenizer: built.tokenizer.toJSON(), weights, step: built.step });
  if (!checkpointExists(outDir)) throw new GptLabError(`The import into ${outDir} was not saved.`, 'INTERNAL');
  for (const n of notes) req.onLog?.(n);
  return { outDir, kind: built.kind, config: built.config, step: built.step, toGpt2: built.toGpt2, notes };
}

interface Built {
  kind: ImportResult['kind'];
  config: GPTConfig;
  tokenizer: Tokenizer;
  weights: Map<string, Float32Array>;
  heads: { name: string; shape: number[] }[];
  training: Record<string, unknown>;
  corpus?: Record<string, unknown>;
  parent?: { name: string; dir: string; step: number };
  data: Record<string, unknown>;
  metrics: Record<string, number>;
  step: number;
  toGpt2?: Int32Array;
}

/** A GPT Lab export, trained further or not: same ids, same names (with `transformer.`), heads beside them. */
async function fromGptLabExport(
  from: string,
  outDir: string,
  hf: Record<string, unknown>,
  gptLab: Record<string, unknown>,
  tensors: Map<string, FloatTensor>,
  notes: string[],
): Promise<Built> {
  const config = { ...(gptLab.model as GPTConfig) };
  try {
    validateConfig(config);
  } catch (e) {
    throw badImport(`config.json: gpt_lab.model is invalid (${(e as Error).message}).`);
  }
  for (const [field, ours] of [
    ['n_layer', config.nLayer],
    ['n_head', config.nHead],
    ['n_embd', config.nEmbd],
    ['n_positions', config.contextLength],
    ['vocab_size', config.vocabSize],
  ] as const) {
    if (hf[field] !== undefined && hf[field] !== ours) {
      throw badImport(`config.json: ${field} is ${JSON.stringify(hf[field])} but gpt_lab.model says ${ours}.`);
    }
  }
  const tokJson = await readJson(from, 'tokenizer.json');
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromJSON(tokJson);
  } catch (e) {
    throw badImport(`tokenizer.json: ${(e as Error).message}`);
  }
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw badImport(
      `tokenizer.json has ${tokenizer.vocabSize} tokens but config.json says vocab_size ${config.vocabSize}.`,
    );
  }
  const heads = Array.isArray(gptLab.heads) ? (gptLab.heads as { name: string; shape: number[] }[]) : [];
  const recipe = recipeOf(config);
  const taken = new Set<string>();
  const weights = new Map<string, Float32Array>();
  for (const name of parameterNames(config)) {
    const file = name === 'lm_head.weight' ? name : HF_PREFIX + name;
    const shape = parameterShape(config, name);
    const t = take(tensors, file, name === 'lm_head.weight' ? [shape[1], shape[0]] : shape, shapeWhy(config), taken);
    weights.set(name, name === 'lm_head.weight' ? transpose(t.data, shape[1], shape[0]) : t.data);
  }
  if (recipe.positionEncoding === 'sinusoidal' && tensors.has(HF_PREFIX + 'wpe.weight')) {
    const t = take(tensors, HF_PREFIX + 'wpe.weight', [config.contextLength, config.nEmbd], shapeWhy(config), taken);
    const table = sinusoids(config.contextLength, config.nEmbd);
    let diff = 0;
    for (let i = 0; i < table.length; i++) diff = Math.max(diff, Math.abs(table[i] - t.data[i]));
    if (diff > 1e-6) {
      // Trained by a tool that did not keep it frozen: the table is now a learned one.
      config.positionEncoding = 'learned';
      weights.set('wpe.weight', t.data);
      notes.push(
        `transformer.wpe.weight moved from the sinusoids (max change ${diff.toPrecision(3)}): imported as learned positions`,
      );
    }
  }
  for (const h of heads) weights.set(h.name, take(tensors, h.name, h.shape, 'config.json gpt_lab.heads', taken).data);
  // Written back by Hugging Face (save_pretrained of older versions, or torch.save): the tied head and the masks.
  const wte = tensors.get(HF_PREFIX + 'wte.weight')!.data;
  const head = tensors.get('lm_head.weight');
  if (!recipe.untiedHead && head && head.data.length === wte.length && head.data.every((x, i) => x === wte[i])) {
    taken.add('lm_head.weight');
  }
  for (const n of tensors.keys()) if (isHfBuffer(n)) taken.add(n);
  refuseUnknown(tensors, taken);
  const trained = (gptLab.trained ?? undefined) as Record<string, unknown> | undefined;
  const source = (gptLab.source ?? {}) as { dir?: string; step?: number };
  const step = Number.isSafeInteger(gptLab.step) ? (gptLab.step as number) : 0;
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries((trained?.metrics ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'number') metrics[k] = v;
  }
  return {
    kind: 'gpt-lab-export',
    config,
    tokenizer,
    weights,
    heads,
    training: { ...defaultTraining(config), ...((gptLab.training ?? {}) as Record<string, unknown>), model: config },
    ...(isObject(gptLab.corpus) && { corpus: gptLab.corpus }),
    // The version it was exported from is its parent when it sits beside the new one (the same models folder).
    parent:
      typeof source.dir === 'string' && path.dirname(source.dir) === path.dirname(outDir)
        ? { name: path.basename(source.dir), dir: source.dir, step: Number(source.step ?? 0) }
        : undefined,
    data: { ...(typeof source.dir === 'string' && { exportedFrom: source.dir }), ...(trained && { trained }) },
    metrics,
    step,
  };
}

/** A GPT-2-layout checkpoint with GPT-2's tokenizer files: ids mapped, embedding rows permuted. */
async function fromGpt2(
  from: string,
  hf: Record<string, unknown>,
  tensors: Map<string, FloatTensor>,
  notes: string[],
): Promise<Built> {
  const { config: shapeCfg, tied, vocabSize: hfVocab } = configFromHf(hf);
  const mapped = await readGpt2Tokenizer(from);
  const V = mapped.tokenizer.vocabSize;
  const maxId = mapped.toGpt2.reduce((m, id) => Math.max(m, id), -1);
  if (maxId >= hfVocab) {
    throw badImport(`The tokenizer uses id ${maxId} but config.json says vocab_size ${hfVocab}.`);
  }
  const config: GPTConfig = { ...shapeCfg, vocabSize: V };
  if (!tied) (config as unknown as Record<string, unknown>).untiedHead = true;
  validateConfig(config);
  const names = parameterNames(config);
  if (!tied && !names.includes('lm_head.weight')) {
    throw badImport('config.json unties the head (tie_word_embeddings false), which this GPT Lab cannot represent.');
  }
  const C = config.nEmbd;
  const why = `config.json (vocab_size ${hfVocab}, n_positions ${config.contextLength}, n_embd ${C}, n_layer ${config.nLayer})`;
  const prefixed = [...tensors.keys()].some((n) => n.startsWith(HF_PREFIX));
  const key = (n: string) => (prefixed ? HF_PREFIX + n : n);
  const taken = new Set<string>();
  const weights = new Map<string, Float32Array>();
  for (const name of names) {
    if (name === 'wte.weight') {
      const t = take(tensors, key(name), [hfVocab, C], why, taken);
      weights.set(name, permuteRows(t.data, C, mapped.toGpt2));
    } else if (name === 'lm_head.weight') {
      const t = take(tensors, 'lm_head.weight', [hfVocab, C], why, taken); // nn.Linear [vocab, n_embd]
      weights.set(name, transpose(permuteRows(t.data, C, mapped.toGpt2), V, C));
    } else {
      const shape = parameterShape(config, name);
      weights.set(name, take(tensors, key(name), shape, why, taken).data);
    }
  }
  if (tied && tensors.has('lm_head.weight')) {
    const head = take(tensors, 'lm_head.weight', [hfVocab, C], why, taken).data;
    const wte = tensors.get(key('wte.weight'))!.data;
    if (head.some((x, i) => x !== wte[i])) {
      throw badImport("model.safetensors: 'lm_head.weight' differs from the embedding, but config.json ties them.");
    }
  }
  for (const n of tensors.keys()) if (isHfBuffer(n)) taken.add(n);
  refuseUnknown(tensors, taken);
  if (mapped.dropped.length) {
    notes.push(
      `${mapped.dropped.length} token(s) GPT Lab's layout has no place for were left out: ${mapped.dropped.slice(0, 5).join(', ')}`,
    );
  }
  notes.push(
    `ids mapped onto GPT Lab's layout (${V} tokens); <|fim_prefix|>, <|fim_middle|>, <|fim_suffix|> are new rows`,
  );
  return {
    kind: 'gpt2',
    config,
    tokenizer: mapped.tokenizer,
    weights,
    heads: [],
    training: defaultTraining(config),
    data: { vocabSize: hfVocab, dropped: mapped.dropped.length },
    metrics: {},
    step: 0,
    toGpt2: mapped.toGpt2,
  };
}

async function readGpt2Tokenizer(from: string): Promise<MappedTokenizer> {
  const has = (n: string) => existsSync(path.join(from, n));
  if (has('tokenizer.json')) {
    // A GPT Lab export whose config.json lost its `gpt_lab` section (re-saved by another tool): same ids.
    const json = await readJson(from, 'tokenizer.json');
    if (json.format === 'gpt-lab-bpe') {
      let tokenizer: Tokenizer;
      try {
        tokenizer = Tokenizer.fromJSON(json);
      } catch (e) {
        throw badImport(`tokenizer.json: ${(e as Error).message}`);
      }
      return { tokenizer, toGpt2: Int32Array.from({ length: tokenizer.vocabSize }, (_, i) => i), dropped: [] };
    }
  }
  if (has('vocab.json') && has('merges.txt')) {
    const read = (n: string) => fs.readFile(path.join(from, n), 'utf8');
    return mapGpt2Vocabulary(parseGpt2Files(await read('vocab.json'), await read('merges.txt')));
  }
  if (has('tokenizer.json')) {
    const json = await readJson(from, 'tokenizer.json');
    const pre = JSON.stringify(json.pre_tokenizer ?? null);
    const v = parseHfTokenizerJson(json);
    if (!v || !pre.includes('ByteLevel')) {
      throw badImport("tokenizer.json is neither GPT Lab's nor a byte-level BPE tokenizer (GPT-2's kind).");
    }
    return mapGpt2Vocabulary(v);
  }
  throw badImport(`${from} has no tokenizer: give vocab.json + merges.txt (GPT-2) or tokenizer.json.`);
}

/** Rows of `data` [*, C] in the order `order` gives (GPT Lab id → source row; -1: the mean row). */
function permuteRows(data: Float32Array, C: number, order: Int32Array): Float32Array {
  const rows = data.length / C;
  const mean = new Float32Array(C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) mean[c] += data[r * C + c] / rows;
  const out = new Float32Array(order.length * C);
  order.forEach((src, i) => out.set(src < 0 ? mean : data.subarray(src * C, src * C + C), i * C));
  return out;
}

function take(
  tensors: Map<string, FloatTensor>,
  name: string,
  shape: number[],
  why: string,
  taken: Set<string>,
): FloatTensor {
  const t = tensors.get(name);
  if (!t) throw badImport(`model.safetensors has no tensor '${name}' (${why} needs it).`);
  if (t.shape.join() !== shape.join()) {
    throw badImport(
      `model.safetensors: tensor '${name}' has shape [${t.shape.join(', ')}] but ${why} implies [${shape.join(', ')}].`,
    );
  }
  taken.add(name);
  return t;
}

function refuseUnknown(tensors: Map<string, FloatTensor>, taken: Set<string>): void {
  const unknown = [...tensors.keys()].filter((n) => !taken.has(n));
  if (unknown.length) {
    throw badImport(
      `model.safetensors holds tensor '${unknown[0]}'${unknown.length > 1 ? ` (and ${unknown.length - 1} more)` : ''}, which this config has no place for.`,
    );
  }
}

function shapeWhy(c: GPTConfig): string {
  return `config.json (vocab_size ${c.vocabSize}, n_positions ${c.contextLength}, n_embd ${c.nEmbd}, n_layer ${c.nLayer})`;
}

/** What later stages (finetune, alignment) read from `training`: the engine's defaults, at a fine-tuning rate. */
function defaultTraining(config: GPTConfig): Record<string, unknown> {
  const t = defaultTrainConfig('tiny', {
    maxSteps: 1,
    maxMinutes: undefined,
    learningRate: 3e-4,
    minLearningRate: 3e-5,
  });
  return { ...t, preset: undefined, model: config, maxSteps: undefined };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readJson(dir: string, name: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, name), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw badImport(`${dir} has no ${name}.`);
    throw e;
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw badImport(`${name} in ${dir} is not valid JSON (${(e as Error).message}).`);
  }
}

async function readWeights(dir: string): Promise<Map<string, FloatTensor>> {
  const file = path.join(dir, 'model.safetensors');
  if (!existsSync(file)) {
    const bin = existsSync(path.join(dir, 'pytorch_model.bin'));
    throw badImport(
      bin
        ? `${dir} has pytorch_model.bin but no model.safetensors: convert it first (python3 scale/to_safetensors.py ${dir}).`
        : `${dir} has no model.safetensors.`,
    );
  }
  return readFloatSafetensors(await fs.readFile(file), 'model.safetensors');
}
