import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatProblems } from '../../core/data/jsonl';
import { exportPreferences, importPreferences } from '../../core/data/preferences';
import { config } from '../config';
import type { Lab } from '../lab';
import { log } from '../log';
import { RankPanel } from '../panels/rankPanel';

/** Scripted use (tests, keybindings): the prompt instead of the editor's, the count, the sampling seed. */
export interface RankArgs {
  prompt?: string;
  languageId?: string;
  count?: number;
  seed?: number;
}

/** How much of the text before the cursor is the prompt (the model sees its last contextLength tokens anyway). */
const MAX_PROMPT_CHARS = 2000;

/** The prompt at the cursor: the selection, else the text before the cursor. */
export function rankPromptAt(editor: vscode.TextEditor): string {
  const doc = editor.document;
  if (!editor.selection.isEmpty) return doc.getText(editor.selection);
  const end = doc.offsetAt(editor.selection.active);
  return doc.getText(new vscode.Range(doc.positionAt(Math.max(0, end - MAX_PROMPT_CHARS)), editor.selection.active));
}

/**
 * "GPT Lab: Rank Completions": the active version writes K distinct completions of the prompt at the cursor (or
 * the selection) in the inference worker; the ranking board opens. Resolves with the board (undefined if not).
 */
export async function rankCompletions(lab: Lab, args: RankArgs = {}): Promise<RankPanel | undefined> {
  if (!lab.info) {
    const choice = await vscode.window.showErrorMessage(
      'There is no model yet: train one on this workspace first, then rank its completions.',
      'Train on Workspace',
    );
    if (choice) await vscode.commands.executeCommand('gptLab.train');
    return undefined;
  }
  const editor = vscode.window.activeTextEditor;
  let prompt = args.prompt;
  if (prompt === undefined) {
    if (!editor) {
      void vscode.window.showErrorMessage(
        'Open a file and put the cursor where the model should continue (or select a prompt), then rank.',
      );
      return undefined;
    }
    prompt = rankPromptAt(editor);
  }
  if (!prompt.trim()) {
    void vscode.window.showErrorMessage(
      'There is nothing before the cursor to continue: put the cursor after some code, or select a prompt.',
    );
    return undefined;
  }
  const count = args.count !== undefined ? Math.min(9, Math.max(2, Math.round(args.count))) : config.rankCount();
  return RankPanel.show(lab, {
    prompt,
    languageId: args.languageId ?? editor?.document.languageId ?? 'plaintext',
    count,
    seed: args.seed,
  });
}

/** Opens preferences.jsonl (created empty if missing). */
export async function openPreferences(lab: Lab): Promise<void> {
  const file = lab.preferences.file;
  if (!existsSync(file)) {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, '');
  }
  await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
}

/** Imports pairs from a JSONL file; malformed lines are reported by number. Returns how many were added. */
export async function importPreferencesCommand(lab: Lab, from?: vscode.Uri): Promise<number | undefined> {
  const uri =
    from ??
    (
      await vscode.window.showOpenDialog({
        title: 'Import preference pairs (JSONL: {"prompt": …, "chosen": …, "rejected": …} per line)',
        canSelectMany: false,
        filters: { 'JSON Lines': ['jsonl', 'json', 'txt'], 'All files': ['*'] },
        openLabel: 'Import',
      })
    )?.[0];
  if (!uri) return undefined;
  try {
    const { added, problems } = await importPreferences(lab.preferences.file, uri.fsPath);
    await lab.preferences.recount();
    const summary = `Imported ${added} preference pair${added === 1 ? '' : 's'} from ${path.basename(uri.fsPath)} (${lab.preferences.counts.pairs} in all).`;
    if (problems.length) {
      const skipped = formatProblems(uri.fsPath, problems);
      log(`import preferences: ${skipped}`);
      void vscode.window.showWarningMessage(`${summary} ${skipped}`);
    } else void vscode.window.showInformationMessage(summary);
    return added;
  } catch (err) {
    void vscode.window.showErrorMessage(`GPT Lab could not import ${uri.fsPath}: ${(err as Error).message}`);
    return undefined;
  }
}

/** Exports the pairs to a JSONL file (TRL's format). Returns how many were written. */
export async function exportPreferencesCommand(lab: Lab, to?: vscode.Uri): Promise<number | undefined> {
  const { records, problems } = await lab.preferences.read();
  if (records.length === 0) {
    void vscode.window.showInformationMessage(
      'There are no preference pairs to export yet. Rank some completions with "GPT Lab: Rank Completions".',
    );
    return undefined;
  }
  const uri =
    to ??
    (await vscode.window.showSaveDialog({
      title: 'Export preference pairs as JSONL',
      filters: { 'JSON Lines': ['jsonl'] },
      defaultUri: vscode.workspace.workspaceFolders?.[0]
        ? vscode.Uri.joinPath(vscode.workspace.workspaceFolders[0].uri, 'preferences.jsonl')
        : undefined,
      saveLabel: 'Export',
    }));
  if (!uri) return undefined;
  try {
    const n = await exportPreferences(lab.preferences.file, uri.fsPath);
    const skipped = problems.length ? ` ${formatProblems(lab.preferences.file, problems)}` : '';
    void vscode.window.showInformationMessage(
      `Exported ${n} preference pair${n === 1 ? '' : 's'} to ${path.basename(uri.fsPath)}.${skipped}`,
    );
    return n;
  } catch (err) {
    void vscode.window.showErrorMessage(`GPT Lab could not export to ${uri.fsPath}: ${(err as Error).message}`);
    return undefined;
  }
}
