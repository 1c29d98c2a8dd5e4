import { promises as fs } from 'node:fs';
import { writeFileAtomic } from '../checkpoint';
import { appendRecord, parseRecords, readRecords, ReadRecords } from './jsonl';

/**
 * A supervised fine-tuning example in TRL's prompt–completion format. `suffix` (GPT Lab's own field) is the text
 * after the cursor when the example came from an accepted completion, so the FIM form sees what the model saw.
 */
export interface SftExample {
  prompt: string;
  completion: string;
  suffix?: string;
  /** Where it came from: 'manual', 'accepted', 'import'. */
  source?: string;
  time?: string;
}

/** At most this many characters per field: an example is a snippet, not a file. */
export const MAX_EXAMPLE_CHARS = 100_000;

export function parseExample(v: unknown): SftExample | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  for (const k of ['prompt', 'completion'] as const) {
    if (typeof o[k] !== 'string') return `"${k}" must be a string`;
  }
  if (o.suffix !== undefined && typeof o.suffix !== 'string') return '"suffix" must be a string';
  const ex: SftExample = { prompt: o.prompt as string, completion: o.completion as string };
  if ((ex.completion as string).length === 0) return '"completion" is empty';
  if (typeof o.suffix === 'string') ex.suffix = o.suffix;
  if (typeof o.source === 'string') ex.source = o.source;
  if (typeof o.time === 'string') ex.time = o.time;
  for (const [k, s] of Object.entries(ex)) {
    if (typeof s === 'string' && s.length > MAX_EXAMPLE_CHARS)
      return `"${k}" is longer than ${MAX_EXAMPLE_CHARS} characters`;
  }
  return ex;
}

export function readExamples(file: string): Promise<ReadRecords<SftExample>> {
  return readRecords(file, parseExample);
}

export function appendExample(file: string, ex: SftExample): Promise<void> {
  return appendRecord(file, { ...ex, time: ex.time ?? new Date().toISOString() });
}

/** Adds the valid examples of a JSONL file to `file`; returns how many and the lines skipped. */
export async function importExamples(
  file: string,
  from: string,
): Promise<{ added: number; problems: ReadRecords<SftExample>['problems'] }> {
  const text = await fs.readFile(from, 'utf8');
  const { records, problems } = parseRecords(text, parseExample);
  for (const r of records) await appendExample(file, { source: 'import', ...r });
  return { added: records.length, problems };
}

/** Writes the examples (valid ones only) to `to` atomically. */
export async function exportExamples(file: string, to: string): Promise<number> {
  const { records } = await readExamples(file);
  await writeFileAtomic(to, records.map((r) => JSON.stringify(r) + '\n').join(''));
  return records.length;
}
