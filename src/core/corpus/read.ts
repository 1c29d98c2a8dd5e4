/**
 * readCorpus: walk a folder and gather the files a code model should learn from.
 * Two passes: list candidate paths (pruning ignored directories), then read them in sorted
 * order so the result and the over-budget cut are the same on every machine.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isModelFolder, isModelFolderFile } from '../checkpoint/modelFolder';
import { LOCK_FILE } from '../checkpoint/lock';
import { GptLabError } from '../errors';
import ignore from 'ignore';
import { Minimatch } from 'minimatch';
import { classifyFile } from './classify';
import { GitignoreLevel, gitignoreLevel, isGitignored } from './gitignore';
import { languageOf } from './languages';
import { emptySkipCounts, formatSkipped, summarizeCorpus } from './summary';
import {
  DEFAULT_CORPUS_OPTIONS,
  SKIP_CATEGORIES,
  type Corpus,
  type CorpusFile,
  type CorpusOptions,
  type CorpusSummary,
  type SkipCategory,
} from './types';

/** Version-control metadata: never content, so skipped whatever `exclude` says, and not counted. */
const VCS_DIRS = new Set(['.git', '.hg', '.svn']);
/** Files read concurrently; enough to hide disk latency without holding many fds. */
const READ_BATCH = 32;

/** The files of `root` a code model should learn from; EMPTY_CORPUS (saying why) when none is left. */
export async function readCorpus(root: string, options: Partial<CorpusOptions> = {}): Promise<Corpus> {
  const { root: absRoot, files, skipped } = await readCorpusFiles(root, options);
  const summary = summarizeCorpus(files, skipped);
  if (files.length === 0) throw emptyCorpusError(absRoot, summary);
  return { root: absRoot, files, summary };
}

/** What readCorpus reads, and why it skipped the rest, without the summary or the empty-corpus error: the
 *  extension reads every folder of a multi-root workspace this way and sums them up once. */
export async function readCorpusFiles(
  root: string,
  options: Partial<CorpusOptions> = {},
): Promise<{ root: string; files: CorpusFile[]; skipped: Record<SkipCategory, number> }> {
  const opts = withDefaults(options);
  const absRoot = path.resolve(root);
  await assertDirectory(absRoot);
  const skipped = emptySkipCounts();
  const candidates = await listCandidates(absRoot, opts, skipped);
  const files = await readCandidates(absRoot, candidates, opts, skipped);
  return { root: absRoot, files, skipped };
}

/** Fills in defaults; an explicit `undefined` (say, an unset CLI flag) means "default" too. */
function withDefaults(options: Partial<CorpusOptions>): CorpusOptions {
  const opts: CorpusOptions = { ...DEFAULT_CORPUS_OPTIONS };
  for (const key of Object.keys(options) as (keyof CorpusOptions)[]) {
    if (options[key] !== undefined) Object.assign(opts, { [key]: options[key] });
  }
  return opts;
}

async function assertDirectory(absRoot: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(absRoot);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`;
    throw new GptLabError(`The folder ${absRoot} ${what}. Point gpt-lab at a folder with source code.`, 'NO_SUCH_DIR');
  }
  if (!stat.isDirectory()) {
    throw new GptLabError(
      `${absRoot} is a file, not a folder. Point gpt-lab at the folder that contains your source code.`,
      'NO_SUCH_DIR',
    );
  }
}

/** Relative paths ('/'-separated, sorted by code unit) of files that pass every ignore rule. */
async function listCandidates(
  absRoot: string,
  opts: CorpusOptions,
  skipped: Record<SkipCategory, number>,
): Promise<{ rel: string; raw?: Buffer }[]> {
  // ignorecase off: the same answer on every OS, as git gives on Linux.
  const exclude = ignore({ ignorecase: false }).add(opts.exclude);
  const include = opts.include.length > 0 ? ignore({ ignorecase: false }).add(opts.include) : null;
  const globs = opts.excludeGlobs.map((g) => new Minimatch(g, { dot: true }));
  const globbed = (rel: string) => globs.some((g) => g.match(rel));
  const found: string[] = [];
  const skipDirs = new Set(opts.skipDirs.map((d) => path.resolve(d)));
  const rawPaths = new Map<string, Buffer>();

  const walk = async (dirRel: string, levels: readonly GitignoreLevel[]): Promise<void> => {
    let entries: Entry[];
    try {
      entries = await readEntries(absRoot, dirRel, rawPaths);
    } catch (err) {
      if (dirRel === '') {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        throw new GptLabError(`The folder ${absRoot} cannot be read (${code}). Check its permissions.`, 'NO_SUCH_DIR');
      }
      skipped.unreadable++; // vanished or no permission: skip it rather than fail the whole run
      return;
    }
    // A model folder is GPT Lab's output, never training data (say, `--out` inside the corpus).
    const absDir = path.join(absRoot, dirRel);
    const modelFolder = skipDirs.has(absDir) || (entries.some(mayMarkModelFolder) && (await isModelFolder(absDir)));
    if (modelFolder && dirRel !== '') {
      skipped.ignored++;
      return;
    }
    if (modelFolder) entries = entries.filter((e) => !isModelFolderFile(e.name) && e.name !== LOCK_FILE);
    const level = opts.gitignore ? await loadGitignore(absRoot, dirRel, entries) : null;
    const active = level ? [...levels, level] : levels;
    for (const entry of entries) {
      const rel = dirRel === '' ? entry.name : `${dirRel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (VCS_DIRS.has(entry.name)) continue;
        // The trailing '/' lets directory-only patterns ('build/') match.
        if (exclude.ignores(`${rel}/`) || isGitignored(active, `${rel}/`) || globbed(rel)) {
          skipped.ignored++; // counted once; its contents are never walked
          continue;
        }
        await walk(rel, active);
      } else if (entry.isFile()) {
        const excluded = exclude.ignores(rel) || isGitignored(active, rel) || globbed(rel);
        if (excluded || (include !== null && !include.ignores(rel))) {
          skipped.ignored++;
          continue;
        }
        found.push(rel);
      }
      // Symlinks are not followed (loops, files outside the folder, duplicates); sockets and
      // FIFOs are never read (a FIFO would block forever).
    }
  };

  await walk('', []);
  const paths = found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return paths.map((rel) => ({ rel, raw: rawPaths.get(rel) }));
}

/** A folder entry: its name for people and rules (odd bytes escaped as \xHH) and whether it is a file or folder. */
interface Entry {
  name: string;
  isFile(): boolean;
  isDirectory(): boolean;
}

/**
 * The entries of `dirRel`. File names are bytes on Linux: one that is not UTF-8 (another encoding, a damaged
 * name) gets a readable name with its odd bytes escaped, and `rawPaths` keeps its real bytes, so it is read
 * like any other file rather than lost.
 */
async function readEntries(absRoot: string, dirRel: string, rawPaths: Map<string, Buffer>): Promise<Entry[]> {
  const rawDir = rawPaths.get(dirRel);
  const entries = await fs.readdir(rawDir ? absPath(absRoot, dirRel, rawDir) : path.join(absRoot, dirRel), {
    withFileTypes: true,
    encoding: 'buffer',
  });
  return entries.map((e) => {
    const bytes = e.name as unknown as Buffer;
    const name = fileName(bytes);
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    if (rawDir || !isUtf8(bytes)) {
      const parent = rawDir ?? Buffer.from(dirRel);
      rawPaths.set(rel, dirRel === '' ? bytes : Buffer.concat([parent, Buffer.from('/'), bytes]));
    }
    return { name, isFile: () => e.isFile(), isDirectory: () => e.isDirectory() };
  });
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A name as text: itself when it is UTF-8, else its ASCII with every other byte written \xHH. */
function fileName(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  return Array.from(bytes, (b) => (b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join(
    '',
  );
}

/** Where a listed path is on disk: its real bytes when its name is not UTF-8. */
function absPath(absRoot: string, rel: string, raw: Buffer | undefined): string | Buffer {
  if (!raw) return path.join(absRoot, ...rel.split('/'));
  return Buffer.concat([Buffer.from(absRoot + path.sep), raw]);
}

/** Only a folder holding one of these can be a model folder; the rest are not worth a read. */
function mayMarkModelFolder(e: Entry): boolean {
  return e.isFile() && (e.name === 'config.json' || e.name === 'state.json' || e.name === 'state.next.json');
}

async function loadGitignore(absRoot: string, dirRel: string, entries: Entry[]): Promise<GitignoreLevel | null> {
  if (!entries.some((e) => e.name === '.gitignore' && e.isFile())) return null;
  try {
    const text = await fs.readFile(path.join(absRoot, dirRel, '.gitignore'), 'utf8');
    return gitignoreLevel(dirRel, text);
  } catch {
    return null;
  }
}

async function readCandidates(
  absRoot: string,
  paths: readonly { rel: string; raw?: Buffer }[],
  opts: CorpusOptions,
  skipped: Record<SkipCategory, number>,
): Promise<CorpusFile[]> {
  const files: CorpusFile[] = [];
  let total = 0;
  for (let start = 0; start < paths.length; start += READ_BATCH) {
    const batch = paths.slice(start, start + READ_BATCH);
    const loaded = await Promise.all(batch.map((p) => loadFile(absRoot, p.rel, p.raw, opts)));
    for (let i = 0; i < loaded.length; i++) {
      const result = loaded[i];
      if (typeof result === 'string') {
        skipped[result]++;
      } else if (total + result.bytes.length > opts.maxTotalBytes) {
        // Stop here: this file and every later one (in path order) are over budget.
        skipped['over-budget'] += paths.length - (start + i);
        return files;
      } else {
        total += result.bytes.length;
        files.push(result);
      }
    }
  }
  return files;
}

async function loadFile(
  absRoot: string,
  rel: string,
  raw: Buffer | undefined,
  opts: CorpusOptions,
): Promise<CorpusFile | SkipCategory> {
  const abs = absPath(absRoot, rel, raw);
  try {
    // lstat + isFile: it was a regular file when listed; don't follow one swapped for a link since.
    const stat = await fs.lstat(abs);
    if (!stat.isFile()) return 'unreadable';
    if (stat.size > opts.maxFileBytes) return 'too-large'; // decided without reading it
    const buffer = await fs.readFile(abs);
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    return classifyFile(rel, bytes, opts) ?? { path: rel, bytes, language: languageOf(rel) };
  } catch {
    return 'unreadable';
  }
}

function emptyCorpusError(absRoot: string, summary: CorpusSummary): GptLabError {
  const total = SKIP_CATEGORIES.reduce((sum, c) => sum + summary.skipped[c], 0);
  if (total === 0) {
    return new GptLabError(
      `No files to train on in ${absRoot}: the folder is empty. Point gpt-lab at a folder with source code.`,
      'EMPTY_CORPUS',
    );
  }
  const fixes = ['Point gpt-lab at a folder with source code'];
  if (summary.skipped.ignored > 0) fixes.push('change the include/exclude patterns');
  if (summary.skipped['too-large'] > 0) fixes.push('raise the file size limit (maxFileBytes)');
  if (summary.skipped['over-budget'] > 0) fixes.push('raise the total size limit (maxTotalBytes)');
  const entries = total === 1 ? 'the only entry was' : total === 2 ? 'both entries were' : `all ${total} entries were`;
  return new GptLabError(
    `No files to train on in ${absRoot}: ${entries} skipped (${formatSkipped(summary.skipped)}). ` +
      `${fixes.join(', or ')}.`,
    'EMPTY_CORPUS',
  );
}
