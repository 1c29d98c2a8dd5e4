import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatProblems, type LineProblem } from '../../core/data/jsonl';
import { log } from '../log';

/** A JSONL file of records GPT Lab keeps (SFT examples, preference pairs), as the import/export commands name it. */
export interface JsonlKind {
  /** 'example', 'preference pair': counted in messages ("3 examples"). */
  noun: string;
  /** The dialogs' titles (the import one shows the record's shape), and the file name export suggests. */
  importTitle: string;
  exportTitle: string;
  defaultName: string;
  /** The log's prefix for skipped lines. */
  logTag: string;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** Opens a JSONL store (created empty if missing), to read or fix by hand. */
export async function openJsonlFile(file: string): Promise<void> {
  if (!existsSync(file)) {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, '');
  }
  await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
}

/**
 * Import: the file the user picks (`from` for tests and scripts) is appended by `append`; malformed lines are
 * reported by number and the rest kept. Resolves with how many records were added (undefined: none picked/failed).
 */
export async function importJsonl(
  kind: JsonlKind,
  from: vscode.Uri | undefined,
  append: (file: string) => Promise<{ added: number; problems: LineProblem[] }>,
  total: () => Promise<number>,
): Promise<number | undefined> {
  const uri =
    from ??
    (
      await vscode.window.showOpenDialog({
        title: kind.importTitle,
        canSelectMany: false,
        filters: { 'JSON Lines': ['jsonl', 'json', 'txt'], 'All files': ['*'] },
        openLabel: 'Import',
      })
    )?.[0];
  if (!uri) return undefined;
  try {
    const { added, problems } = await append(uri.fsPath);
    const summary = `Imported ${count(added, kind.noun)} from ${path.basename(uri.fsPath)} (${await total()} in all).`;
    if (problems.length) {
      const skipped = formatProblems(uri.fsPath, problems);
      log(`${kind.logTag}: ${skipped}`);
      void vscode.window.showWarningMessage(`${summary} ${skipped}`);
    } else void vscode.window.showInformationMessage(summary);
    return added;
  } catch (err) {
    void vscode.window.showErrorMessage(`GPT Lab could not import ${uri.fsPath}: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Export: the store's records to the file the user picks (`to` for tests and scripts); `empty` is said when
 * there is nothing to export. Resolves with how many were written.
 */
export async function exportJsonl(
  kind: JsonlKind,
  to: vscode.Uri | undefined,
  store: { file: string; read: () => Promise<{ records: unknown[]; problems: LineProblem[] }> },
  write: (toFile: string) => Promise<number>,
  empty: string,
): Promise<number | undefined> {
  const { records, problems } = await store.read();
  if (records.length === 0) {
    void vscode.window.showInformationMessage(empty);
    return undefined;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  const uri =
    to ??
    (await vscode.window.showSaveDialog({
      title: kind.exportTitle,
      filters: { 'JSON Lines': ['jsonl'] },
      defaultUri: folder ? vscode.Uri.joinPath(folder.uri, kind.defaultName) : undefined,
      saveLabel: 'Export',
    }));
  if (!uri) return undefined;
  try {
    const n = await write(uri.fsPath);
    const skipped = problems.length ? ` ${formatProblems(store.file, problems)}` : '';
    void vscode.window.showInformationMessage(
      `Exported ${count(n, kind.noun)} to ${path.basename(uri.fsPath)}.${skipped}`,
    );
    return n;
  } catch (err) {
    void vscode.window.showErrorMessage(`GPT Lab could not export to ${uri.fsPath}: ${(err as Error).message}`);
    return undefined;
  }
}
