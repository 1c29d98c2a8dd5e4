import * as vscode from 'vscode';
import { exportPreferences, importPreferences, PreferenceLine } from '../../core/data/preferences';
import { config } from '../config';
import type { Lab } from '../lab';
import { log } from '../log';
import { RankPanel } from '../panels/rankPanel';
import { exportJsonl, importJsonl, JsonlKind, openJsonlFile } from './jsonlFiles';

/** Scripted use (tests, keybindings): the prompt instead of the editor's, the count, the sampling seed. */
export interface RankArgs {
  /** A place in a document (the completion hover's link): the text before it is the prompt. */
  at?: { uri: string; line: number; character: number };
  prompt?: string;
  languageId?: string;
  count?: number;
  seed?: number;
}

/** How much of the text before the cursor is the prompt (the model sees its last contextLength tokens anyway). */
const MAX_PROMPT_CHARS = 2000;

/** The prompt at the cursor: the selection, else the text before the cursor. */
export function rankPromptAt(editor: vscode.TextEditor): string {
  if (!editor.selection.isEmpty) return editor.document.getText(editor.selection);
  return textBefore(editor.document, editor.selection.active);
}

function textBefore(doc: vscode.TextDocument, pos: vscode.Position): string {
  const end = doc.offsetAt(pos);
  return doc.getText(new vscode.Range(doc.positionAt(Math.max(0, end - MAX_PROMPT_CHARS)), pos));
}

/** The document and prompt of a place given by the hover's link, if the document can be opened. */
async function promptAtPlace(
  at: NonNullable<RankArgs['at']>,
): Promise<{ prompt: string; languageId: string } | undefined> {
  if (typeof at.uri !== 'string' || !Number.isInteger(at.line) || !Number.isInteger(at.character)) return undefined;
  try {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(at.uri, true));
    return {
      prompt: textBefore(doc, doc.validatePosition(new vscode.Position(at.line, at.character))),
      languageId: doc.languageId,
    };
  } catch (err) {
    log(`rank: cannot open ${at.uri}: ${(err as Error).message}`);
    return undefined;
  }
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
  let languageId = args.languageId;
  if (prompt === undefined && args.at) {
    const place = await promptAtPlace(args.at);
    if (!place) {
      void vscode.window.showErrorMessage('That document cannot be read any more: put the cursor in code, then rank.');
      return undefined;
    }
    prompt = place.prompt;
    languageId ??= place.languageId;
  }
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
    languageId: languageId ?? editor?.document.languageId ?? 'plaintext',
    count,
    seed: args.seed,
  });
}

const PREFERENCES: JsonlKind = {
  noun: 'preference pair',
  importTitle: 'Import preference pairs (JSONL: {"prompt": …, "chosen": …, "rejected": …} per line)',
  exportTitle: 'Export preference pairs as JSONL',
  defaultName: 'preferences.jsonl',
  logTag: 'import preferences',
};

/** Opens preferences.jsonl (created empty if missing). */
export function openPreferences(lab: Lab): Promise<void> {
  return openJsonlFile(lab.preferences.file);
}

/** Imports pairs from a JSONL file; malformed lines are reported by number. Returns how many were added. */
export function importPreferencesCommand(lab: Lab, from?: vscode.Uri): Promise<number | undefined> {
  return importJsonl(
    PREFERENCES,
    from,
    (file) => importPreferences(lab.preferences.file, file),
    async () => (await lab.preferences.recount(), lab.preferences.counts.pairs),
  );
}

/** Exports the pairs to a JSONL file (TRL's format). Returns how many were written. */
export function exportPreferencesCommand(lab: Lab, to?: vscode.Uri): Promise<number | undefined> {
  return exportJsonl(
    PREFERENCES,
    to,
    { file: lab.preferences.file, read: () => lab.preferences.read() },
    (file) => exportPreferences(lab.preferences.file, file),
    'There are no preference pairs to export yet. Rank some completions with "GPT Lab: Rank Completions".',
  );
}

/** Scripted use: the pair to delete, as listed (its line and texts). */
export interface DeletePreferenceArgs {
  line: number;
  prompt: string;
  chosen: string;
  rejected: string;
  time?: string;
}

function targetOf(a: unknown): PreferenceLine | undefined {
  const o = a as Partial<DeletePreferenceArgs> | undefined;
  if (!o || !Number.isInteger(o.line)) return undefined;
  if (typeof o.prompt !== 'string' || typeof o.chosen !== 'string' || typeof o.rejected !== 'string') return undefined;
  const { prompt, chosen, rejected } = o;
  return {
    line: o.line!,
    preference: { prompt, chosen, rejected, ...(typeof o.time === 'string' && { time: o.time }) },
  };
}

const oneLine = (t: string, n = 60) => {
  const s = t.replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n - 1)}…` : s || '(empty)';
};

/**
 * "GPT Lab: Delete Preference": the user picks one pair (newest first) and it leaves preferences.jsonl (the file
 * rewritten atomically, every other line as it was); Undo puts it back. Resolves with whether one was deleted.
 */
export async function deletePreferenceCommand(lab: Lab, arg?: unknown): Promise<boolean> {
  let target = targetOf(arg);
  if (!target) {
    const lines = await lab.preferences.lines();
    if (lines.length === 0) {
      void vscode.window.showInformationMessage('There are no preference pairs to delete.');
      return false;
    }
    const picked = await vscode.window.showQuickPick(
      [...lines].reverse().map((l) => ({
        label: `$(thumbsup) ${oneLine(l.preference.chosen)}`,
        description: `over ${oneLine(l.preference.rejected)}`,
        detail: `line ${l.line} · after "${oneLine(l.preference.prompt.slice(-80), 40)}"${l.preference.time ? ` · ${new Date(l.preference.time).toLocaleString()}` : ''}`,
        l,
      })),
      {
        title: 'Delete which preference pair? (chosen over rejected)',
        matchOnDescription: true,
        matchOnDetail: true,
        ignoreFocusOut: true,
      },
    );
    if (!picked) return false;
    target = picked.l;
  }
  try {
    if (!(await lab.preferences.delete(target))) {
      void vscode.window.showWarningMessage('That pair is no longer in preferences.jsonl: nothing was deleted.');
      return false;
    }
  } catch (err) {
    void vscode.window.showErrorMessage(`GPT Lab could not delete the pair: ${(err as Error).message}`);
    return false;
  }
  log(`preferences: deleted the pair on line ${target.line} (${lab.preferences.counts.pairs} left)`);
  const deleted = target.preference;
  void vscode.window
    .showInformationMessage(`Deleted one preference pair (${lab.preferences.counts.pairs} left).`, 'Undo')
    .then(async (choice) => {
      if (choice === 'Undo') await lab.preferences.append([deleted]);
    });
  return true;
}
