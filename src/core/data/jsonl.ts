import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { appendLineSafe } from '../checkpoint';
import { GptLabError } from '../errors';

/** A line of a JSONL file that could not be used, with its 1-based number and why. */
export interface LineProblem {
  line: number;
  message: string;
}

export interface ReadRecords<T> {
  records: T[];
  /** Malformed or invalid lines, skipped and reported — never silently dropped. */
  problems: LineProblem[];
}

/**
 * Reads JSON Lines, validating each record with `parse` (which returns the record or a reason string).
 * A missing file has no records; blank lines are ignored; an unterminated last line (a crash mid-append) is
 * reported like any other bad line, since it was never acknowledged.
 */
export async function readRecords<T>(file: string, parse: (v: unknown) => T | string): Promise<ReadRecords<T>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { records: [], problems: [] };
    throw new GptLabError(`Cannot read ${file} (${code ?? (e as Error).message}).`, 'DATA_UNREADABLE');
  }
  return parseRecords(text, parse);
}

export function parseRecords<T>(text: string, parse: (v: unknown) => T | string): ReadRecords<T> {
  const records: T[] = [];
  const problems: LineProblem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push({ line: i + 1, message: 'not valid JSON' });
      return;
    }
    const r = parse(value);
    if (typeof r === 'string') problems.push({ line: i + 1, message: r });
    else records.push(r);
  });
  return { records, problems };
}

/** Appends one record as a line: one O_APPEND write and an fsync, so a crash never tears an acknowledged line. */
export async function appendRecord(file: string, record: object): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await appendLineSafe(file, JSON.stringify(record));
}

export function formatProblems(file: string, problems: LineProblem[], max = 5): string {
  const shown = problems
    .slice(0, max)
    .map((p) => `line ${p.line}: ${p.message}`)
    .join('; ');
  return `${path.basename(file)}: ${problems.length} line${problems.length === 1 ? '' : 's'} skipped (${shown}${problems.length > max ? '; …' : ''})`;
}
