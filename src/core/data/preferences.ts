import { promises as fs } from 'node:fs';
import { writeFileAtomic } from '../checkpoint';
import { GptLabError } from '../errors';
import { appendRecord, parseRecords, readRecords, ReadRecords } from './jsonl';
import { MAX_EXAMPLE_CHARS } from './examples';

/**
 * A preference pair in TRL's format. `ranking` keeps the ranking it came from (completions best first, with
 * tie groups), so pairs can be derived again.
 */
export interface Preference {
  prompt: string;
  chosen: string;
  rejected: string;
  suffix?: string;
  ranking?: Ranking;
  time?: string;
}

/** Completions ordered by the user: `ranks[i]` is completion i's place (0 = best); equal ranks are ties. */
export interface Ranking {
  completions: string[];
  ranks: number[];
}

/** All C(K, 2) chosen/rejected pairs of a ranking of K completions; tied completions give no pair. */
export function rankingToPairs(prompt: string, ranking: Ranking, suffix?: string): Preference[] {
  const { completions, ranks } = ranking;
  if (completions.length !== ranks.length || completions.length < 2 || completions.length > 9) {
    throw new GptLabError('A ranking needs 2 to 9 completions, each with a rank.', 'BAD_RANKING');
  }
  if (!ranks.every((r) => Number.isInteger(r) && r >= 0)) {
    throw new GptLabError('Ranks must be whole numbers from 0 (best).', 'BAD_RANKING');
  }
  const pairs: Preference[] = [];
  for (let i = 0; i < completions.length; i++) {
    for (let j = 0; j < completions.length; j++) {
      if (ranks[i] < ranks[j]) {
        pairs.push({
          prompt,
          chosen: completions[i],
          rejected: completions[j],
          ...(suffix !== undefined && { suffix }),
          ranking,
        });
      }
    }
  }
  return pairs;
}

export function parsePreference(v: unknown): Preference | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  for (const k of ['prompt', 'chosen', 'rejected'] as const) {
    if (typeof o[k] !== 'string') return `"${k}" must be a string`;
    if ((o[k] as string).length > MAX_EXAMPLE_CHARS) return `"${k}" is longer than ${MAX_EXAMPLE_CHARS} characters`;
  }
  if (o.chosen === o.rejected) return '"chosen" and "rejected" are the same text';
  if (o.suffix !== undefined && typeof o.suffix !== 'string') return '"suffix" must be a string';
  const p: Preference = { prompt: o.prompt as string, chosen: o.chosen as string, rejected: o.rejected as string };
  if (typeof o.suffix === 'string') p.suffix = o.suffix;
  if (typeof o.time === 'string') p.time = o.time;
  const r = o.ranking as Ranking | undefined;
  if (r !== undefined) {
    const ok =
      typeof r === 'object' &&
      r !== null &&
      Array.isArray(r.completions) &&
      Array.isArray(r.ranks) &&
      r.completions.length === r.ranks.length &&
      r.completions.every((c) => typeof c === 'string') &&
      r.ranks.every((x) => Number.isInteger(x) && x >= 0);
    if (!ok) return '"ranking" must hold completions and their whole-number ranks';
    p.ranking = { completions: [...r.completions], ranks: [...r.ranks] };
  }
  return p;
}

export function readPreferences(file: string): Promise<ReadRecords<Preference>> {
  return readRecords(file, parsePreference);
}

/** Appends the pairs of one ranking, one line each (each line is crash-safe on its own). */
export async function appendPreferences(file: string, pairs: Preference[]): Promise<void> {
  const time = new Date().toISOString();
  for (const p of pairs) await appendRecord(file, { ...p, time: p.time ?? time });
}

export async function importPreferences(
  file: string,
  from: string,
): Promise<{ added: number; problems: ReadRecords<Preference>['problems'] }> {
  const { records, problems } = parseRecords(await fs.readFile(from, 'utf8'), parsePreference);
  await appendPreferences(file, records);
  return { added: records.length, problems };
}

export async function exportPreferences(file: string, to: string): Promise<number> {
  const { records } = await readPreferences(file);
  await writeFileAtomic(to, records.map((r) => JSON.stringify(r) + '\n').join(''));
  return records.length;
}

/** A valid pair and the 1-based line it is on (what a deletion names). */
export interface PreferenceLine {
  line: number;
  preference: Preference;
}

/** The file's lines, each with its newline (the last may have none): a rewrite keeps every other byte as it was. */
function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function parseLine(raw: string): Preference | undefined {
  const line = raw.replace(/\r?\n$/, '').replace(/\r$/, '');
  if (line.trim() === '') return undefined;
  try {
    const p = parsePreference(JSON.parse(line));
    return typeof p === 'string' ? undefined : p;
  } catch {
    return undefined;
  }
}

/** Every valid pair with its line number (malformed lines are left out here; readPreferences reports them). */
export async function readPreferenceLines(file: string): Promise<PreferenceLine[]> {
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw e;
  });
  return splitLines(text).flatMap((raw, i) => {
    const p = parseLine(raw);
    return p ? [{ line: i + 1, preference: p }] : [];
  });
}

const samePair = (a: Preference, b: Preference) =>
  a.prompt === b.prompt && a.chosen === b.chosen && a.rejected === b.rejected && a.time === b.time;

/**
 * Deletes one pair: the line `target.line` if it still holds that pair, else the first line that does (the file
 * changed since it was listed). The file is rewritten atomically (temp file, fsync, rename): a crash leaves the
 * old file or the new one, never a mix; every other line — malformed ones too — stays byte for byte. Returns
 * false when no line holds the pair. An append racing the rewrite (another window) is caught by re-reading the
 * file just before the rename and starting again.
 */
export async function deletePreference(file: string, target: PreferenceLine): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    const lines = splitLines(text);
    const holds = (i: number) => {
      const p = parseLine(lines[i] ?? '');
      return p !== undefined && samePair(p, target.preference);
    };
    let at = target.line - 1;
    if (!holds(at)) at = lines.findIndex((_, i) => holds(i));
    if (at < 0) return false;
    lines.splice(at, 1);
    if ((await fs.readFile(file, 'utf8')) !== text) continue; // changed while we looked: read it again
    await writeFileAtomic(file, lines.join(''));
    return true;
  }
  throw new GptLabError(`${file} kept changing while a preference was being deleted; try again.`, 'DATA_BUSY');
}

/** Prompts of a JSONL of preferences or examples (PPO rolls out from them), each once. */
export function promptsOf(records: { prompt: string; suffix?: string }[]): { prompt: string; suffix?: string }[] {
  const seen = new Set<string>();
  return records.filter((r) => !seen.has(r.prompt) && seen.add(r.prompt));
}
