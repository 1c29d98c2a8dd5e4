import * as vscode from 'vscode';
import type { CorpusPayload } from '../protocol/worker';
import { config } from './config';
import { readWorkspaceCorpus } from './workspaceCorpus';

export { EmptyCorpusError } from './workspaceCorpus';

/**
 * The workspace's training files: every folder of a multi-root workspace, read by the engine's corpus reader
 * (.gitignore, the size budget, binary/minified/generated/too-large skips) with files.exclude and the user's
 * gptLab.include/exclude/maxFileSizeKB on top.
 */
export async function collectWorkspaceCorpus(): Promise<CorpusPayload> {
  const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => ({
    name: folder.name,
    fsPath: folder.uri.fsPath,
    settings: {
      include: config.include(),
      exclude: config.exclude(),
      maxFileBytes: config.maxFileBytes(),
      filesExclude: vscode.workspace.getConfiguration('files', folder).get<Record<string, unknown>>('exclude') ?? {},
    },
  }));
  return readWorkspaceCorpus(folders);
}
