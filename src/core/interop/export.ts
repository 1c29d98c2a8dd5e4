/**
 * `gpt-lab export`: a model version as a folder the Python ecosystem reads —
 *
 *   config.json        Hugging Face GPT-2 config (n_layer, …; model_type gpt2, or gpt_lab_modern for the modern
 *                      architecture, which GPT2LMHeadModel cannot compute), GPT Lab's own under `gpt_lab`
 *   model.safetensors  the weights with GPT2LMHeadModel's names and layouts (see hfLayout.ts)
 *   tokenizer.json     GPT Lab's tokenizer; vocab.json + merges.txt the same vocabulary in GPT-2's format
 *   train.bin, val.bin, meta.json   the tokenized corpus, nanoGPT style (corpusBin.ts)
 *
 * scale/train_ddp.py trains on it with torchrun and writes the same layout back; `gpt-lab import` reads either.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors, loadCheckpoint, NamedTensors, writeFileAtomic } from '../checkpoint';
import { readCorpus, splitByFile } from '../corpus';
import { GptLabError } from '../errors';
import { parameterNames, parameterShape } from '../model/gpt';
import { sinusoids } from '../model/ops';
import { readModelFolder } from '../model/persist';
import { buildDataset } from '../train/data';
import { CorpusMeta, writeCorpusBins } from './corpusBin';
import { gpt2FilesOf } from './gpt2Vocab';
import { EXPORT_FORMAT, hfConfig, hfIncompatibilities, hfName, recipeOf, transpose } from './hfLayout';

export interface ExportRequest {
  modelDir: string;
  outDir: string;
  /** Folder to tokenize into train.bin/val.bin (default: the corpus the model was trained on, if still there). */
  corpusDir?: string;
  /** false: weights and tokenizer only. */
  corpus?: boolean;
  /** The corpus as files already read (the extension's workspace files); used instead of corpusDir. */
  corpusFiles?: { path: string; bytes: Uint8Array }[];
  /** Where corpusFiles were read from (recorded in meta.json). */
  corpusRoot?: string;
  onLog?: (message: string) => void;
}

export interface ExportResult {
  outDir: string;
  files: string[];
  tensors: string[];
  hfCompatible: boolean;
  /** What Hugging Face's GPT2LMHeadModel cannot load as is (rotary positions, …). */
  incompatible: string[];
  corpus?: CorpusMeta;
  step: number;
}

/** The files an export writes (and the only ones a later export into the same folder replaces). */
export const EXPORT_FILES = [
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'vocab.json',
  'merges.txt',
  'train.bin',
  'val.bin',
  'meta.json',
];

export async function exportModel(req: ExportRequest): Promise<ExportResult> {
  const modelDir = path.resolve(req.modelDir);
  const outDir = path.resolve(req.outDir);
  if (outDir === modelDir)
    throw new GptLabError('Export into a new folder, not the model folder itself.', 'SAME_FOLDER');
  await checkExportFolder(outDir);
  const ckpt = await loadCheckpoint(modelDir);
  const { config, tokenizer, weights } = readModelFolder(modelDir, ckpt);
  const c = config.model;
  const recipe = recipeOf(c);

  const tensors: NamedTensors = new Map();
  for (const name of parameterNames(c)) {
    const data = weights.get(name)!;
    const shape = parameterShape(c, name);
    if (name === 'lm_head.weight') {
      tensors.set(name, { dtype: 'F32', shape: [shape[1], shape[0]], data: transpose(data, shape[0], shape[1]) });
    } else tensors.set(hfName(name), { dtype: 'F32', shape, data });
  }
  if (recipe.positionEncoding === 'sinusoidal') {
    // Fixed sinusoids, exported as the table GPT-2's learned wpe would hold; scale/ keeps it frozen.
    const table = sinusoids(c.contextLength, c.nEmbd);
    tensors.set(hfName('wpe.weight'), { dtype: 'F32', shape: [c.contextLength, c.nEmbd], data: table });
  }
  for (const h of config.heads ?? []) tensors.set(h.name, { dtype: 'F32', shape: h.shape, data: weights.get(h.name)! });

  await fs.mkdir(outDir, { recursive: true });
  const files: string[] = [];
  const write = async (name: string, data: Uint8Array | string) => {
    await writeFileAtomic(path.join(outDir, name), data);
    files.push(name);
  };
  await write('model.safetensors', encodeSafetensors(tensors, { format: 'pt' }));
  await write('tokenizer.json', JSON.stringify(tokenizer.toJSON()) + '\n');
  const gpt2 = gpt2FilesOf(tokenizer);
  if (gpt2) {
    await write('vocab.json', gpt2.vocabJson);
    await write('merges.txt', gpt2.mergesTxt);
  } else {
    for (const f of ['vocab.json', 'merges.txt']) await fs.rm(path.join(outDir, f), { force: true });
    req.onLog?.('vocab.json/merges.txt not written: two merges of this tokenizer make the same bytes');
  }

  let corpus: CorpusMeta | undefined;
  const training = (config.training ?? {}) as { fimRate?: number; seed?: number; valFraction?: number };
  if (req.corpus !== false) {
    const root = req.corpusDir ?? (typeof config.corpus?.root === 'string' ? config.corpus.root : undefined);
    const given = req.corpusFiles?.length ? { root: req.corpusRoot ?? root ?? '', files: req.corpusFiles } : undefined;
    if (given || (root && existsSync(root))) {
      const read = given ?? (await readCorpus(path.resolve(root!), { skipDirs: [outDir, modelDir] }));
      const seed = training.seed ?? 1337;
      const fimRate = training.fimRate ?? 0;
      const valFraction = training.valFraction ?? 0.1;
      const { train, val } = splitByFile(read.files, valFraction, seed);
      const data = buildDataset(
        tokenizer,
        train.map((f) => f.bytes),
        (val.length ? val : train).map((f) => f.bytes),
        { fimRate, seed, fimChunkTokens: Math.floor(c.contextLength / 2) },
      );
      const s = tokenizer.specials;
      corpus = await writeCorpusBins(outDir, data, {
        vocab_size: tokenizer.vocabSize,
        eot_token: s.endOfText,
        fim_tokens: { prefix: s.fimPrefix, middle: s.fimMiddle, suffix: s.fimSuffix },
        corpus_root: read.root,
        train_files: train.length,
        val_files: val.length,
        fim_rate: fimRate,
        seed,
        val_fraction: valFraction,
      });
      files.push('train.bin', 'val.bin', 'meta.json');
      req.onLog?.(
        `corpus: ${corpus.train_tokens} training and ${corpus.val_tokens} validation tokens (${corpus.dtype})`,
      );
    } else {
      req.onLog?.(
        root ? `corpus folder ${root} not found: no train.bin/val.bin (give --corpus)` : 'no corpus: give --corpus',
      );
    }
  }

  const incompatible = hfIncompatibilities(c);
  const hf = hfConfig(c, {
    model: c,
    heads: config.heads ?? [],
    training: config.training ?? {},
    ...(config.corpus && { corpus: config.corpus }),
    position_table:
      recipe.positionEncoding === 'sinusoidal'
        ? 'fixed sinusoids, exported as transformer.wpe.weight (train_ddp.py keeps them frozen)'
        : recipe.positionEncoding,
    tensor_names: "Hugging Face GPT2LMHeadModel's (transformer.h.0.attn.c_attn.weight, …; Conv1D [in, out])",
    tokenizer: { file: 'tokenizer.json', pretokenizer: tokenizer.pretokenizer, vocab_size: tokenizer.vocabSize },
    source: { dir: modelDir, step: ckpt.step, lineage: config.lineage ?? {} },
    step: ckpt.step,
    ...(incompatible.length > 0 && { hf_incompatible: incompatible }),
  });
  await write('config.json', JSON.stringify(hf, null, 2) + '\n');
  return {
    outDir,
    files,
    tensors: [...tensors.keys()],
    hfCompatible: incompatible.length === 0,
    incompatible,
    corpus,
    step: ckpt.step,
  };
}

/** A new or empty folder, or an earlier export (its files are replaced); never someone's own folder. */
async function checkExportFolder(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR')
      throw new GptLabError(`${dir} is a file: give a folder to export into.`, 'OUT_NOT_A_FOLDER');
    throw e;
  }
  if (names.length === 0) return;
  let isExport = false;
  try {
    const cfg = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as {
      gpt_lab?: { format?: unknown };
    };
    isExport = cfg?.gpt_lab?.format === EXPORT_FORMAT;
  } catch {
    // not ours
  }
  const others = names.filter((n) => !EXPORT_FILES.includes(n) && !/^\..+\.tmp$/.test(n));
  if (!isExport || others.length > 0) {
    throw new GptLabError(
      `${dir} is not empty and not a GPT Lab export (it holds ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}): ` +
        'choose a new or empty folder to export into.',
      'OUT_NOT_EXPORT_FOLDER',
    );
  }
}
