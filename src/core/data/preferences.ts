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

/** Prompts of a JSONL of preferences or examples (PPO rolls out from them), each once. */
export function promptsOf(records: { prompt: string; suffix?: string }[]): { prompt: string; suffix?: string }[] {
  const seen = new Set<string>();
  return records.filter((r) => !seen.has(r.prompt) && seen.add(r.prompt));
}
