import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { checkpointExists, loadCheckpointConfig } from './checkpoint';
import { GptLabError } from './errors';

/** A model version: a model folder beside its siblings (`base`, `sft-1`, …) with what made it. */
export interface VersionInfo {
  name: string;
  dir: string;
  /** 'pretrain', 'sft', … ('pretrain' for folders from before versions were recorded). */
  stage: string;
  /** The parent version's folder name. */
  parent?: string;
  step: number;
  date: string;
  metrics: Record<string, number>;
  /** What the stage trained on (file, example counts). */
  data?: Record<string, unknown>;
}

/** What config.json's `lineage` holds. */
export interface Lineage {
  stage?: string;
  parent?: { name: string; dir: string; step: number };
  data?: Record<string, unknown>;
  metrics?: Record<string, number>;
  step?: number;
  date?: string;
}

/** Reads one model folder's version record (config.json and state.json only). */
export async function readVersion(dir: string): Promise<VersionInfo> {
  const info = await loadCheckpointConfig(dir);
  const lineage = (info.config.lineage ?? {}) as Lineage;
  return {
    name: path.basename(dir),
    dir,
    stage: typeof lineage.stage === 'string' ? lineage.stage : 'pretrain',
    parent: lineage.parent?.name,
    step: info.step,
    date: lineage.date ?? info.savedAt,
    metrics: lineage.metrics ?? {},
    data: lineage.data,
  };
}

/** Every model version under `root` (sub-folders holding a checkpoint), oldest first; unreadable ones skipped. */
export async function listVersions(root: string): Promise<{ versions: VersionInfo[]; problems: string[] }> {
  let names: string[];
  try {
    names = (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return { versions: [], problems: [] };
  }
  const versions: VersionInfo[] = [];
  const problems: string[] = [];
  for (const name of names.sort()) {
    const dir = path.join(root, name);
    if (!checkpointExists(dir)) continue;
    try {
      versions.push(await readVersion(dir));
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  versions.sort((a, b) => a.date.localeCompare(b.date));
  return { versions, problems };
}

/** The next free name for a stage's version under `root`: `sft-1`, `sft-2`, … */
export function nextVersionName(existing: string[], stage: string): string {
  let n = 1;
  const re = new RegExp(`^${stage}-(\\d+)$`);
  for (const name of existing) {
    const m = re.exec(name);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return `${stage}-${n}`;
}

/** A version name a user may give: one folder name, no path tricks. */
export function checkVersionName(name: string): string {
  const n = name.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(n) || n.includes('..')) {
    throw new GptLabError(
      `'${name}' cannot name a version: use letters, digits, '.', '_' or '-' (at most 64, no path).`,
      'BAD_VERSION_NAME',
    );
  }
  return n;
}
