/**
 * The workspace's training files, read by the engine's one corpus reader (the CLI's) with the extension's
 * settings on top. No vscode here: the caller reads the settings, so this is tested in plain Node.
 */
import {
  CorpusFile,
  CorpusOptions,
  DEFAULT_CORPUS_OPTIONS,
  DEFAULT_EXCLUDE,
  emptySkipCounts,
  formatSkipped,
  readCorpusFiles,
  summarizeCorpus,
  vscodeLanguageIdOf,
} from '../core/corpus';
import { GptLabError } from '../core/errors';
import type { CorpusPayload } from '../protocol/worker';

/** Nothing to train on: the user can act (open a folder, change gptLab.include/exclude). */
export class EmptyCorpusError extends GptLabError {
  constructor(message: string) {
    super(message, 'EMPTY_CORPUS');
  }
}

/** What the user set: gptLab.include / gptLab.exclude (.gitignore syntax, as `gpt-lab train --include`), the
 *  file size limit, and the folder's files.exclude (VS Code globs; `true` entries apply). */
export interface WorkspaceCorpusSettings {
  include: readonly string[];
  exclude: readonly string[];
  maxFileBytes: number;
  filesExclude: Readonly<Record<string, unknown>>;
}

/** The reader's options for one workspace folder: gptLab.exclude adds to the built-in skips, never replaces them. */
export function workspaceCorpusOptions(s: WorkspaceCorpusSettings): Partial<CorpusOptions> {
  return {
    include: s.include,
    exclude: [...DEFAULT_EXCLUDE, ...s.exclude],
    maxFileBytes: s.maxFileBytes,
    excludeGlobs: Object.entries(s.filesExclude)
      .filter(([, on]) => on === true)
      .map(([glob]) => glob),
  };
}

export interface WorkspaceFolderRef {
  name: string;
  fsPath: string;
  settings: WorkspaceCorpusSettings;
}

/**
 * Every folder of a (multi-root) workspace under one size budget, in folder order; with more than one folder,
 * paths start with the folder's name. EmptyCorpusError, saying why, when no file is left.
 */
export async function readWorkspaceCorpus(folders: readonly WorkspaceFolderRef[]): Promise<CorpusPayload> {
  if (folders.length === 0)
    throw new EmptyCorpusError('Open a folder first: GPT Lab trains on the files of the workspace.');
  const skipped = emptySkipCounts();
  const files: CorpusFile[] = [];
  let left = DEFAULT_CORPUS_OPTIONS.maxTotalBytes;
  for (const folder of folders) {
    const got = await readCorpusFiles(folder.fsPath, {
      ...workspaceCorpusOptions(folder.settings),
      maxTotalBytes: left,
    });
    for (const [reason, n] of Object.entries(got.skipped)) skipped[reason as keyof typeof skipped] += n;
    for (const f of got.files) {
      left -= f.bytes.length;
      files.push(folders.length > 1 ? { ...f, path: `${folder.name}/${f.path}` } : f);
    }
  }
  if (files.length === 0) {
    const why = formatSkipped(skipped);
    throw new EmptyCorpusError(
      `No files to train on${why ? `: every file was skipped (${why})` : ': the workspace has no files'}. ` +
        'Files excluded by .gitignore, files.exclude or gptLab.exclude, binary, minified and generated files are left out.',
    );
  }
  return {
    root: folders[0].fsPath,
    files: files.map(({ path, bytes }) => ({ path, bytes })),
    summary: summarizeCorpus(files, skipped),
    languageIds: [...new Set(files.map((f) => vscodeLanguageIdOf(f.path)))].sort(),
  };
}
