/**
 * A model folder:
 *
 *   config.json            model + training config (the caller's JSON)
 *   tokenizer.json         the tokenizer (the caller's JSON)
 *   model.safetensors      weights, Hugging Face GPT-2 names
 *   optimizer.safetensors  optional optimizer state (e.g. `exp_avg.<name>`, `exp_avg_sq.<name>`)
 *   state.json             the commit record (see state.ts), written last
 *   history.jsonl          metrics, appended on their own; not part of a checkpoint
 *
 * Saving is a small redo-log transaction, so a crash at any moment leaves a loadable checkpoint, the previous
 * or the new one:
 *   1. every file is written atomically as `<name>.next` (the current files are untouched);
 *   2. `state.next.json`, the new commit record, is written atomically: this is the commit point;
 *   3. each `<name>.next` is renamed over `<name>`, then `state.next.json` over `state.json`.
 * A reader that finds `state.next.json` takes each file from `<name>.next`, or from `<name>` once renamed. If a
 * crash came before step 2, `state.json` still describes the untouched files. Every file is checked against
 * the size and sha256 in its record, so anything else (a disk error, a hand edit) is detected, never loaded.
 * The next save finishes an interrupted step 3 before it starts. One writer per folder at a time.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { GptLabError, storageError } from '../errors';
import { appendLineSafe, isTempFileName, readJsonLines, syncDir, writeFileAtomic } from './atomic';
import { decodeSafetensors, encodeSafetensors, NamedTensors } from './safetensors';
import {
  CheckpointFileName,
  CheckpointState,
  fileRecord,
  isObject,
  OPTIONAL_FILES,
  REQUIRED_FILES,
  STATE_FORMAT,
  STATE_VERSION,
  stateProblem,
} from './state';

const STATE = 'state.json';
const PENDING = 'state.next.json';
const HISTORY = 'history.jsonl';
const NEXT = '.next';
const ALL_FILES: CheckpointFileName[] = [...REQUIRED_FILES, ...OPTIONAL_FILES];

export interface CheckpointData {
  config: object;
  tokenizer: object;
  weights: NamedTensors;
  optimizer?: NamedTensors;
  step: number;
  /** Opaque resume state (rng, data cursor, …); must survive JSON.stringify. */
  trainer?: object;
}

export interface LoadedCheckpoint {
  config: Record<string, unknown>;
  tokenizer: object;
  weights: NamedTensors;
  optimizer?: NamedTensors;
  step: number;
  savedAt: string;
  trainer: Record<string, unknown>;
  history: Record<string, unknown>[];
  /** Problems found in history.jsonl (invalid lines skipped); the checkpoint itself is fine. */
  historyWarnings: string[];
  /** Why `optimizer` is absent although the checkpoint lists it (damaged): the weights are fine, a resume is not. */
  optimizerProblem?: string;
}

/** What Model Info shows, without reading the weights. */
export interface CheckpointInfo {
  config: Record<string, unknown>;
  step: number;
  savedAt: string;
  trainer: Record<string, unknown>;
  files: CheckpointState['files'];
}

export function checkpointExists(dir: string): boolean {
  return existsSync(path.join(dir, STATE)) || existsSync(path.join(dir, PENDING));
}

export async function saveCheckpoint(dir: string, ckpt: CheckpointData): Promise<void> {
  if (!Number.isSafeInteger(ckpt.step) || ckpt.step < 0) {
    throw new Error(`saveCheckpoint: invalid step ${ckpt.step}`);
  }
  try {
    await saveCommitted(dir, ckpt);
  } catch (e) {
    // Before the commit point the previous checkpoint is untouched; drop the uncommitted files to give space back.
    if (!existsSync(path.join(dir, PENDING))) {
      for (const name of ALL_FILES) await fs.rm(path.join(dir, name + NEXT), { force: true }).catch(() => undefined);
    }
    const previous = checkpointExists(dir) ? 'The previous checkpoint is intact.' : 'No checkpoint was saved.';
    throw storageError(e, `saving the checkpoint of step ${ckpt.step} in ${dir}`, previous) ?? e;
  }
}

async function saveCommitted(dir: string, ckpt: CheckpointData): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await finishPendingCommit(dir);

  const contents: Partial<Record<CheckpointFileName, Uint8Array>> = {
    'config.json': jsonBytes(ckpt.config),
    'tokenizer.json': jsonBytes(ckpt.tokenizer),
    'model.safetensors': encodeSafetensors(ckpt.weights, { format: 'pt' }),
  };
  if (ckpt.optimizer) contents['optimizer.safetensors'] = encodeSafetensors(ckpt.optimizer, { format: 'pt' });
  const state: CheckpointState = {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    step: ckpt.step,
    savedAt: new Date().toISOString(),
    trainer: { ...(ckpt.trainer ?? {}) },
    files: {},
  };
  // Leftovers of a save that crashed before its commit point: uncommitted `.next` files and temp files.
  for (const name of await fs.readdir(dir)) {
    const uncommitted = ALL_FILES.some((f) => name === f + NEXT);
    if (uncommitted || isTempFileName(name)) await fs.rm(path.join(dir, name), { force: true });
  }
  for (const [name, data] of Object.entries(contents) as [CheckpointFileName, Uint8Array][]) {
    state.files[name] = fileRecord(data);
    await writeFileAtomic(path.join(dir, name + NEXT), data);
  }
  await writeFileAtomic(path.join(dir, PENDING), jsonBytes(state));
  await finishPendingCommit(dir);
  if (!ckpt.optimizer) await fs.rm(path.join(dir, 'optimizer.safetensors'), { force: true });
}

/** Step 3 of a save: moves a committed `state.next.json` and its files into place. Idempotent. */
async function finishPendingCommit(dir: string): Promise<void> {
  const pending = await readIfExists(path.join(dir, PENDING));
  if (!pending) return;
  const state = parseJson(pending);
  if (stateProblem(state) !== undefined) {
    // Never written by a save (those are atomic): drop it; state.json and its hashes still decide.
    await fs.rm(path.join(dir, PENDING), { force: true });
    return;
  }
  for (const name of Object.keys((state as CheckpointState).files)) {
    await fs.rename(path.join(dir, name + NEXT), path.join(dir, name)).catch(ignoreMissing);
  }
  await syncDir(dir);
  await fs.rename(path.join(dir, PENDING), path.join(dir, STATE));
  await syncDir(dir);
}

export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  // The optimizer state is verified on its own: only a resume needs it, so a damaged one must not stop
  // inference (the trainer refuses a resume without it).
  const { state, files, pending } = await loadVerified(dir, (s) => REQUIRED_FILES.filter((f) => f in s.files));
  const weights = decodeFile(files, 'model.safetensors', dir)!;
  checkFinite(weights, 'model.safetensors', dir);
  const { optimizer, optimizerProblem } = await loadOptimizer(dir, state, pending);
  const history = await readHistory(dir);
  return {
    ...(optimizerProblem !== undefined && { optimizerProblem }),
    config: parseJsonFile(files['config.json']!, 'config.json', dir) as Record<string, unknown>,
    tokenizer: parseJsonFile(files['tokenizer.json']!, 'tokenizer.json', dir),
    weights,
    ...(optimizer ? { optimizer } : {}),
    step: state.step,
    savedAt: state.savedAt,
    trainer: state.trainer,
    history: history.records,
    historyWarnings: history.warnings,
  };
}

/** Reads and checks state.json and config.json only. */
export async function loadCheckpointConfig(dir: string): Promise<CheckpointInfo> {
  const { state, files } = await loadVerified(dir, () => ['config.json']);
  const config = parseJsonFile(files['config.json']!, 'config.json', dir) as Record<string, unknown>;
  return { config, step: state.step, savedAt: state.savedAt, trainer: state.trainer, files: state.files };
}

export async function appendHistory(dir: string, record: object): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
    await appendLineSafe(path.join(dir, HISTORY), JSON.stringify(record));
  } catch (e) {
    throw storageError(e, `writing ${HISTORY} in ${dir}`, 'The last checkpoint is intact.') ?? e;
  }
}

export async function readHistory(dir: string): Promise<{ records: Record<string, unknown>[]; warnings: string[] }> {
  const { records, warnings } = await readJsonLines(path.join(dir, HISTORY));
  const objects = records.filter(isObject);
  if (objects.length < records.length) {
    warnings.push(`${HISTORY} has ${records.length - objects.length} lines that are not JSON objects; skipped`);
  }
  return { records: objects, warnings };
}

/** Removes the files a model folder holds, then the folder if nothing else is in it. Missing folder: no-op. */
export async function deleteCheckpoint(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    return ignoreMissing(e);
  }
  const ours = new Set<string>([STATE, PENDING, HISTORY, ...ALL_FILES, ...ALL_FILES.map((n) => n + NEXT)]);
  // state.json first, so an interrupted delete leaves no checkpoint rather than a broken one.
  for (const name of [STATE, PENDING, ...names.filter((n) => n !== STATE && n !== PENDING)]) {
    if (ours.has(name) || isTempFileName(name)) await fs.rm(path.join(dir, name), { force: true });
  }
  await fs.rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST' && e.code !== 'ENOENT') throw e;
  });
}

/**
 * Finds the newest commit record whose files (those `wanted` picks) all match their size and sha256. Tries
 * `state.next.json` then `state.json`; if neither holds up because a save committed meanwhile, starts over.
 */
async function loadVerified(
  dir: string,
  wanted: (s: CheckpointState) => CheckpointFileName[],
): Promise<{ state: CheckpointState; files: Partial<Record<CheckpointFileName, Uint8Array>>; pending: boolean }> {
  if (!existsSync(dir)) {
    throw new GptLabError(`No model found in ${dir}: train a model first.`, 'NO_CHECKPOINT');
  }
  if (!(await fs.stat(dir)).isDirectory()) {
    throw new GptLabError(
      `${dir} is a file, not a model folder: give the folder a model was saved in.`,
      'NO_CHECKPOINT',
    );
  }
  for (let attempt = 0; ; attempt++) {
    const records = [await readIfExists(path.join(dir, PENDING)), await readIfExists(path.join(dir, STATE))];
    if (!records[0] && !records[1]) {
      throw new GptLabError(
        `No saved checkpoint in ${dir} (${STATE} is missing): train a model first.`,
        'NO_CHECKPOINT',
      );
    }
    let firstError: unknown;
    for (const [i, bytes] of records.entries()) {
      if (!bytes) continue;
      try {
        return { ...(await verifyCommit(dir, bytes, i === 0 ? PENDING : STATE, i === 0, wanted)), pending: i === 0 };
      } catch (e) {
        firstError ??= e;
      }
    }
    const again = [await readIfExists(path.join(dir, PENDING)), await readIfExists(path.join(dir, STATE))];
    const changed = again.some((b, i) => !sameBytes(b, records[i]));
    if (!changed || attempt >= 2) throw firstError;
  }
}

async function verifyCommit(
  dir: string,
  stateBytes: Uint8Array,
  stateName: string,
  pending: boolean,
  wanted: (s: CheckpointState) => CheckpointFileName[],
): Promise<{ state: CheckpointState; files: Partial<Record<CheckpointFileName, Uint8Array>> }> {
  const state = parseJsonFile(stateBytes, stateName, dir);
  const problem = stateProblem(state);
  const version = (state as { format?: unknown; version?: unknown }).version;
  if (problem && (state as { format?: unknown }).format === STATE_FORMAT && version !== STATE_VERSION) {
    // Another GPT Lab's checkpoint is not damaged: never read as ours, never a reason to delete it.
    const newer = typeof version === 'number' && version > STATE_VERSION;
    throw new GptLabError(
      `${stateName} in ${dir} ${problem}: the model was saved by ${newer ? 'a newer' : 'another'} version of GPT Lab` +
        `${newer ? '; update GPT Lab to open it' : ''}. The folder is left as it is.`,
      'BAD_CHECKPOINT',
    );
  }
  if (problem) throw unusable(stateName, problem, dir);
  const s = state as CheckpointState;
  const files: Partial<Record<CheckpointFileName, Uint8Array>> = {};
  for (const name of wanted(s)) {
    const expected = s.files[name]!;
    const data =
      (pending ? await readIfExists(path.join(dir, name + NEXT)) : undefined) ??
      (await readIfExists(path.join(dir, name)));
    if (!data) throw unusable(name, 'is missing', dir);
    if (data.byteLength !== expected.bytes) {
      throw unusable(name, `is corrupt (${data.byteLength} bytes, expected ${expected.bytes})`, dir);
    }
    if (fileRecord(data).sha256 !== expected.sha256) throw unusable(name, 'is corrupt (checksum mismatch)', dir);
    files[name] = data;
  }
  return { state: s, files };
}

function unusable(name: string, problem: string, dir: string): GptLabError {
  return new GptLabError(
    `${name} ${problem}; the checkpoint in ${dir} cannot be used — delete it and train again.`,
    'BAD_CHECKPOINT',
  );
}

function parseJsonFile(bytes: Uint8Array, name: string, dir: string): object {
  const value = parseJson(bytes);
  if (value === undefined) throw unusable(name, 'is not valid JSON', dir);
  if (typeof value !== 'object' || value === null) throw unusable(name, 'does not hold a JSON object', dir);
  return value;
}

/** The optimizer state of a verified commit, or why it cannot be used. */
async function loadOptimizer(
  dir: string,
  state: CheckpointState,
  pending: boolean,
): Promise<{ optimizer?: NamedTensors; optimizerProblem?: string }> {
  const name = 'optimizer.safetensors';
  const expected = state.files[name];
  if (!expected) return {};
  try {
    const data =
      (pending ? await readIfExists(path.join(dir, name + NEXT)) : undefined) ??
      (await readIfExists(path.join(dir, name)));
    if (!data) throw unusable(name, 'is missing', dir);
    if (data.byteLength !== expected.bytes) {
      throw unusable(name, `is corrupt (${data.byteLength} bytes, expected ${expected.bytes})`, dir);
    }
    if (fileRecord(data).sha256 !== expected.sha256) throw unusable(name, 'is corrupt (checksum mismatch)', dir);
    return { optimizer: decodeFile({ [name]: data }, name, dir) };
  } catch (e) {
    if (e instanceof GptLabError) return { optimizerProblem: e.message };
    throw e;
  }
}

/** NaN or ±Infinity in the weights is a diverged run or a damaged file, never a model to load. */
function checkFinite(tensors: NamedTensors, name: string, dir: string): void {
  for (const [tensor, t] of tensors) {
    if (t.dtype !== 'F32') continue;
    const data = t.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new GptLabError(
          `${name} in ${dir} holds ${data[i]} in tensor '${tensor}': the run that saved it diverged or the file is ` +
            'corrupt. Delete the model and train again (with a lower learning rate if it diverged).',
          'BAD_CHECKPOINT',
        );
      }
    }
  }
}

function decodeFile(
  files: Partial<Record<CheckpointFileName, Uint8Array>>,
  name: 'model.safetensors' | 'optimizer.safetensors',
  dir: string,
): NamedTensors | undefined {
  const bytes = files[name];
  if (!bytes) return undefined;
  try {
    return decodeSafetensors(bytes, name).tensors;
  } catch (e) {
    if (e instanceof GptLabError) throw unusable(name, `is unreadable (${e.message})`, dir);
    throw e;
  }
}

/** The parsed value, or undefined when the bytes are not JSON. */
function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

function jsonBytes(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8');
}

async function readIfExists(file: string): Promise<Uint8Array | undefined> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    return ignoreMissing(e);
  }
}

function ignoreMissing(e: unknown): undefined {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw e;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && Buffer.compare(a, b) === 0);
}
