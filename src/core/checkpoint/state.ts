/**
 * `state.json`, the commit record of a checkpoint: which files belong to it, with their size and sha256, plus
 * the step and the trainer's own resume state. It is written last; a checkpoint without one does not exist.
 */
import { createHash } from 'node:crypto';

export const STATE_FORMAT = 'gpt-lab-checkpoint';
export const STATE_VERSION = 1;

/** Every file a commit record may list; `optimizer.safetensors` is the only optional one. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'model.safetensors'] as const;
export const OPTIONAL_FILES = ['optimizer.safetensors'] as const;
export type CheckpointFileName = (typeof REQUIRED_FILES)[number] | (typeof OPTIONAL_FILES)[number];
const KNOWN_FILES: readonly string[] = [...REQUIRED_FILES, ...OPTIONAL_FILES];

export interface FileRecord {
  bytes: number;
  /** Lower-case hex. */
  sha256: string;
}

export interface CheckpointState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  /** Optimizer steps taken when the checkpoint was saved. */
  step: number;
  /** ISO 8601. */
  savedAt: string;
  /** Whatever the trainer needs to resume exactly (rng state, data cursor, …); opaque here. */
  trainer: Record<string, unknown>;
  files: Partial<Record<CheckpointFileName, FileRecord>>;
}

export function fileRecord(data: Uint8Array): FileRecord {
  return { bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex') };
}

/** Checks a parsed state.json; returns the problem in words, or undefined when it is well-formed. */
export function stateProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'is not a JSON object';
  if (v.format !== STATE_FORMAT) return `has format ${JSON.stringify(v.format)}, expected "${STATE_FORMAT}"`;
  if (v.version !== STATE_VERSION) {
    return `has version ${JSON.stringify(v.version)}; this GPT Lab reads version ${STATE_VERSION}`;
  }
  if (!Number.isSafeInteger(v.step) || (v.step as number) < 0) return `has an invalid step ${JSON.stringify(v.step)}`;
  if (typeof v.savedAt !== 'string') return 'has no savedAt time';
  if (!isObject(v.trainer)) return 'has no trainer object';
  if (!isObject(v.files)) return 'has no files list';
  for (const name of REQUIRED_FILES) if (!(name in v.files)) return `does not list ${name}`;
  for (const [name, rec] of Object.entries(v.files)) {
    if (!KNOWN_FILES.includes(name)) return `lists an unknown file ${JSON.stringify(name)}`;
    if (
      !isObject(rec) ||
      !Number.isSafeInteger(rec.bytes) ||
      (rec.bytes as number) < 0 ||
      typeof rec.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(rec.sha256)
    ) {
      return `has an invalid entry for ${name}`;
    }
  }
  return undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
