/**
 * Crash-safe file writes. A file written with `writeFileAtomic` holds either its old or its new content, never
 * a mix; a line appended with `appendLineSafe` is either whole or a torn last line that `readJsonLines` skips.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Temp files are named `.<target name>.<random>.tmp` next to their target. */
export function isTempFileName(name: string): boolean {
  return /^\..+\.[0-9a-f]{16}\.tmp$/.test(name);
}

/** Writes to a temp file in the same folder, fsyncs it, renames it over `file`, then fsyncs the folder. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (e) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
}

/** Makes renames and new names in `dir` durable. Folders cannot be opened for fsync on Windows. */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Appends one line (which must not contain a newline) with O_APPEND in a single write, then fsyncs. If the
 * file ends in a torn line from an earlier crash, a newline goes first so the new line stays parseable.
 */
export async function appendLineSafe(file: string, line: string): Promise<void> {
  if (/[\r\n]/.test(line)) throw new Error('appendLineSafe: the line must not contain a newline');
  const handle = await fs.open(file, 'a+');
  try {
    const { size } = await handle.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await handle.appendFile(`${prefix}${line}\n`);
    await handle.sync();
    if (size === 0) await syncDir(path.dirname(file));
  } finally {
    await handle.close();
  }
}

export interface JsonLines {
  records: unknown[];
  /** One per invalid line before the last (a torn last line is expected after a crash and skipped quietly). */
  warnings: string[];
}

/** Reads a JSON Lines file; a missing file has no records. Blank lines are ignored. */
export async function readJsonLines(file: string): Promise<JsonLines> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], warnings: [] };
    throw e;
  }
  const lines = text.split('\n');
  // After split, the last element is '' when the file ends in a newline, else an unterminated (maybe torn) line.
  const records: unknown[] = [];
  const warnings: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line));
    } catch {
      if (i < lines.length - 1) warnings.push(`${path.basename(file)} line ${i + 1} is not valid JSON; skipped`);
    }
  });
  return { records, warnings };
}
