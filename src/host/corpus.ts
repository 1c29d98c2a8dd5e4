import * as vscode from 'vscode';
import {
  classifyFile,
  CorpusFile,
  CorpusOptions,
  DEFAULT_CORPUS_OPTIONS,
  DEFAULT_EXCLUDE,
  emptySkipCounts,
  formatSkipped,
  gitignoreLevel,
  GitignoreLevel,
  isGitignored,
  languageOf,
  vscodeLanguageIdOf,
  summarizeCorpus,
} from '../core/corpus';
import { GptLabError } from '../core/errors';
import type { CorpusPayload } from '../protocol/worker';
import { config } from './config';

/** Nothing to train on: the user can act (open a folder, change gptLab.include/exclude). */
export class EmptyCorpusError extends GptLabError {
  constructor(message: string) {
    super(message, 'EMPTY_CORPUS');
  }
}

/** gitignore-style folder patterns ("node_modules/") → findFiles globs ("**∕node_modules/**"). */
function toGlob(pattern: string): string {
  const p = pattern.replace(/^\//, '');
  if (p.endsWith('/')) return `**/${p}**`;
  return p.includes('/') ? p : `**/${p}`;
}

/** findFiles' exclude replaces files.exclude, so merge it in ourselves. */
function excludeGlob(scope: vscode.WorkspaceFolder): string {
  const filesExclude = vscode.workspace.getConfiguration('files', scope).get<Record<string, boolean>>('exclude') ?? {};
  const globs = [
    ...Object.entries(filesExclude)
      .filter(([, on]) => on === true)
      .map(([g]) => g),
    ...DEFAULT_EXCLUDE.map(toGlob),
    '**/.git/**',
    ...config.exclude().map(toGlob),
  ];
  return `{${globs.join(',')}}`;
}

async function gitignores(folder: vscode.WorkspaceFolder, exclude: string): Promise<GitignoreLevel[]> {
  const uris = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, '**/.gitignore'), exclude);
  const levels: GitignoreLevel[] = [];
  for (const uri of uris) {
    const rel = vscode.workspace.asRelativePath(uri, false);
    const base = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    try {
      levels.push(gitignoreLevel(base, new TextDecoder().decode(await vscode.workspace.fs.readFile(uri))));
    } catch {
      // unreadable .gitignore: nothing to apply
    }
  }
  // Root first, deeper later: the order git applies them in.
  return levels.sort((a, b) => a.base.split('/').length - b.base.split('/').length || a.base.localeCompare(b.base));
}

/**
 * The workspace's training files: every folder of a multi-root workspace, files.exclude, .gitignore, the
 * user's include/exclude settings and the engine's skips (binary, minified, generated, too large).
 */
export async function collectWorkspaceCorpus(token?: vscode.CancellationToken): Promise<CorpusPayload> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0)
    throw new EmptyCorpusError('Open a folder first: GPT Lab trains on the files of the workspace.');
  const opts: CorpusOptions = { ...DEFAULT_CORPUS_OPTIONS, maxFileBytes: config.maxFileBytes() };
  const skipped = emptySkipCounts();
  const files: CorpusFile[] = [];
  let total = 0;
  const include = config.include();
  for (const folder of folders) {
    const exclude = excludeGlob(folder);
    const levels = await gitignores(folder, exclude);
    const patterns = include.length ? include : ['**/*'];
    const seen = new Set<string>();
    const uris: vscode.Uri[] = [];
    for (const p of patterns) {
      for (const u of await vscode.workspace.findFiles(
        new vscode.RelativePattern(folder, p),
        exclude,
        undefined,
        token,
      )) {
        if (!seen.has(u.toString())) {
          seen.add(u.toString());
          uris.push(u);
        }
      }
    }
    uris.sort((a, b) => (a.path < b.path ? -1 : 1));
    for (const uri of uris) {
      if (token?.isCancellationRequested) throw new vscode.CancellationError();
      const rel = uri.path.slice(folder.uri.path.length + 1);
      const name = folders.length > 1 ? `${folder.name}/${rel}` : rel;
      if (isGitignored(levels, rel)) {
        skipped.ignored++;
        continue;
      }
      try {
        const stat = await vscode.workspace.fs.stat(uri);
        if (stat.size > opts.maxFileBytes) {
          skipped['too-large']++;
          continue;
        }
        if (total + stat.size > opts.maxTotalBytes) {
          skipped['over-budget']++;
          continue;
        }
        const bytes = await vscode.workspace.fs.readFile(uri);
        const reason = classifyFile(rel, bytes, opts);
        if (reason) {
          skipped[reason]++;
          continue;
        }
        total += bytes.length;
        files.push({ path: name, bytes, language: languageOf(rel) });
      } catch {
        skipped.unreadable++;
      }
    }
  }
  const summary = summarizeCorpus(files, skipped);
  if (files.length === 0) {
    const why = formatSkipped(skipped);
    throw new EmptyCorpusError(
      `No files to train on${why ? `: every file was skipped (${why})` : ': the workspace has no files'}. ` +
        'Files excluded by .gitignore, files.exclude or gptLab.exclude, binary, minified and generated files are left out.',
    );
  }
  const languageIds = [...new Set(files.map((f) => vscodeLanguageIdOf(f.path)))].sort();
  return {
    root: folders[0].uri.fsPath,
    files: files.map(({ path, bytes }) => ({ path, bytes })),
    summary,
    languageIds,
  };
}
