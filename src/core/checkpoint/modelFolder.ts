/**
 * What counts as a GPT Lab model folder, so that a user's own folder is never written into (`--out` pointing at
 * a project) and a model folder is never read as training data.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { GptLabError } from '../errors';
import { isTempFileName } from './atomic';
import { LOCK_FILE } from './lock';
import { OPTIONAL_FILES, REQUIRED_FILES, STATE_FORMAT } from './state';

/** config.json's `format`; the same value as CONFIG_FORMAT in model/persist.ts, which builds on this layer. */
export const MODEL_CONFIG_FORMAT = 'gpt-lab-config';
/**
 * Written after training (COMPLETION_EVAL_FILE in complete/modelEval.ts) and after fine-tuning (SFT_COMPARE_FILE
 * in train/finetune.ts): left behind, a deleted version's folder would stay.
 */
const RUN_ARTEFACTS = ['history.jsonl', 'completion-eval.json', 'sft-compare.json'];
const STATE_FILES = ['state.json', 'state.next.json'];
const CHECKPOINT_FILES: string[] = [...REQUIRED_FILES, ...OPTIONAL_FILES];

/** Names only GPT Lab writes: a folder holding nothing else is a model folder whose first save never came. */
function isLeftoverName(name: string): boolean {
  return (
    RUN_ARTEFACTS.includes(name) ||
    name === LOCK_FILE ||
    isTempFileName(name) ||
    CHECKPOINT_FILES.some((f) => name === f + '.next')
  );
}

/** Every file GPT Lab may have written in a model folder (the lock aside). */
export function isModelFolderFile(name: string): boolean {
  return (isLeftoverName(name) && name !== LOCK_FILE) || STATE_FILES.includes(name) || CHECKPOINT_FILES.includes(name);
}

/** True when `dir` holds a GPT Lab config.json or checkpoint record (their `format` says so). */
export async function isModelFolder(dir: string): Promise<boolean> {
  for (const [name, format] of [
    ['config.json', MODEL_CONFIG_FORMAT],
    ['state.json', STATE_FORMAT],
    ['state.next.json', STATE_FORMAT],
  ]) {
    try {
      const v = JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as { format?: unknown };
      if (v !== null && typeof v === 'object' && v.format === format) return true;
    } catch {
      // missing, unreadable or not JSON: not evidence either way
    }
  }
  return false;
}

/**
 * What is at a folder a run is about to write into: nothing yet, an empty folder, a model folder, or only
 * GPT Lab's own leftovers. Anything else throws (OUT_NOT_A_FOLDER, OUT_NOT_MODEL_FOLDER) before a byte is written.
 */
export async function inspectOutFolder(dir: string): Promise<'new' | 'empty' | 'model' | 'leftovers'> {
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'new';
    if (code === 'ENOTDIR') throw notAFolder(dir, 'a part of its path is a file');
    throw e;
  }
  if (!stat.isDirectory()) throw notAFolder(dir, 'it is a file');
  const names = await fs.readdir(dir);
  if (names.length === 0) return 'empty';
  if (await isModelFolder(dir)) return 'model';
  if (names.every(isLeftoverName)) return 'leftovers';
  const others = names.filter((n) => !isLeftoverName(n)).sort();
  const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? `, … (${others.length} in all)` : '');
  throw new GptLabError(
    `${dir} is not a GPT Lab model folder (it holds ${shown}); training would overwrite files there. ` +
      'Choose a new or empty folder for the model.',
    'OUT_NOT_MODEL_FOLDER',
  );
}

/** Removes every file GPT Lab wrote in `dir` (checkpoint, history, evaluation; not the lock), nothing else. */
export async function clearModelFolder(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  // The commit records first: an interrupted clear leaves no checkpoint rather than a broken one.
  const ordered = [...STATE_FILES, ...names.filter((n) => !STATE_FILES.includes(n))];
  for (const name of ordered) {
    if (isModelFolderFile(name)) await fs.rm(path.join(dir, name), { force: true });
  }
}

function notAFolder(dir: string, why: string): GptLabError {
  return new GptLabError(
    `${dir} cannot be a model folder: ${why}. Choose a folder path for the model.`,
    'OUT_NOT_A_FOLDER',
  );
}
