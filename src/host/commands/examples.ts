import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../../core/checkpoint';
import { appendExample, exportExamples, importExamples, readExamples, SftExample } from '../../core/data/examples';
import type { ExampleDrafts } from '../exampleDrafts';
import { promptAtLine, promptFromSelection } from '../examplePrompt';
import type { Lab } from '../lab';
import { exportJsonl, importJsonl, JsonlKind, openJsonlFile } from './jsonlFiles';

/**
 * "GPT Lab: Add Example": the selection — or, with none, the comment on the cursor's line or the function
 * signature above it — is the prompt; a tab opens for the ideal completion. Returns that tab's editor.
 */
export async function addExample(lab: Lab, drafts: ExampleDrafts): Promise<vscode.TextEditor | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showErrorMessage(
      'Open a file and select the prompt (a comment, a docstring, a function signature) first.',
    );
    return undefined;
  }
  const doc = editor.document;
  const sel = editor.selection;
  let prompt: string | undefined;
  if (!sel.isEmpty) {
    const endsAtLineEnd = sel.end.character === doc.lineAt(sel.end.line).text.length;
    prompt = promptFromSelection(doc.getText(sel), endsAtLineEnd && sel.end.line < doc.lineCount - 1);
  } else {
    const lines = Array.from({ length: doc.lineCount }, (_, i) => doc.lineAt(i).text);
    prompt = promptAtLine(lines, sel.active.line);
  }
  if (!prompt?.trim()) {
    void vscode.window.showErrorMessage(
      'Select the prompt first (a comment, a docstring, a function signature, a test name): there is no comment on this line and no function signature above it.',
    );
    return undefined;
  }
  const ext = doc.uri.scheme === 'file' || doc.uri.scheme === 'vscode-remote' ? path.extname(doc.uri.path) : '';
  const draft = await drafts.open(prompt, ext || '.txt');
  void vscode.window.showInformationMessage(
    'Write the ideal completion after the prompt, then close the tab (or run "GPT Lab: Save Example"): it is saved to your examples. Left empty, nothing is saved.',
  );
  return draft;
}

/** "GPT Lab: Save Example": the draft in the active editor becomes an example and its tab closes. */
export async function saveExample(drafts: ExampleDrafts): Promise<SftExample | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !drafts.isDraft(editor.document.uri)) {
    void vscode.window.showInformationMessage(
      'Save Example works in the tab that "GPT Lab: Add Example" opens. Run Add Example first.',
    );
    return undefined;
  }
  return drafts.finish(editor.document.uri, true);
}

const EXAMPLES: JsonlKind = {
  noun: 'example',
  importTitle: 'Import SFT examples (JSONL: {"prompt": …, "completion": …} per line)',
  exportTitle: 'Export SFT examples as JSONL',
  defaultName: 'examples.jsonl',
  logTag: 'import',
};

/** Opens examples.jsonl or candidates.jsonl (created empty if missing). */
export const openExamplesFile = openJsonlFile;

/** Imports a JSONL file; `from` for tests and scripts. Returns how many examples were added. */
export function importExamplesCommand(lab: Lab, from?: vscode.Uri): Promise<number | undefined> {
  return importJsonl(
    EXAMPLES,
    from,
    (file) => importExamples(lab.examplesFile, file),
    async () => (await lab.recountExamples(), lab.exampleCounts.examples),
  );
}

/** Exports the examples to a JSONL file; `to` for tests and scripts. Returns how many were written. */
export function exportExamplesCommand(lab: Lab, to?: vscode.Uri): Promise<number | undefined> {
  return exportJsonl(
    EXAMPLES,
    to,
    { file: lab.examplesFile, read: () => readExamples(lab.examplesFile) },
    (file) => exportExamples(lab.examplesFile, file),
    'There are no examples to export yet. Add some with "GPT Lab: Add Example".',
  );
}

const oneLine = (s: string, n: number) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
};

/**
 * "GPT Lab: Promote Candidates to Examples": accepted completions the user picks (all, scripted with `all`)
 * move from candidates.jsonl to examples.jsonl. Examples are appended before candidates.jsonl is rewritten, so a
 * crash in between duplicates rather than loses. Returns how many moved.
 */
export async function promoteCandidates(lab: Lab, args?: { all?: boolean }): Promise<number> {
  const { records, problems } = await readExamples(lab.candidatesFile);
  if (records.length === 0) {
    void vscode.window.showInformationMessage(
      'There are no candidates yet: completions you accept (Tab, or typing them through) become candidates.',
    );
    return 0;
  }
  let chosen: number[];
  if (args?.all) chosen = records.map((_, i) => i);
  else {
    const picks = await vscode.window.showQuickPick(
      records.map((r, i) => ({
        label: oneLine(r.completion, 60),
        description: `after …${oneLine(r.prompt.slice(-80), 50)}`,
        detail: r.time ? new Date(r.time).toLocaleString() : undefined,
        picked: true,
        index: i,
      })),
      {
        canPickMany: true,
        title: 'Promote accepted completions to SFT examples',
        placeHolder: 'Untick the ones that were not what you wanted',
        ignoreFocusOut: true,
      },
    );
    if (!picks) return 0;
    chosen = picks.map((p) => p.index);
  }
  const take = new Set(chosen);
  for (const i of chosen) {
    const { time: _time, ...ex } = records[i];
    void _time;
    await appendExample(lab.examplesFile, { ...ex, source: ex.source ?? 'accepted' });
  }
  // Damaged lines stay where they were, for the user to see: only the promoted records leave.
  const text = await fs.readFile(lab.candidatesFile, 'utf8');
  const badLines = new Set(problems.map((p) => p.line));
  const kept: string[] = [];
  let record = 0;
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    if (badLines.has(i + 1)) kept.push(line);
    else if (!take.has(record++)) kept.push(line);
  });
  await writeFileAtomic(lab.candidatesFile, kept.map((l) => l + '\n').join(''));
  await lab.recountExamples();
  vscode.window.setStatusBarMessage(
    `GPT Lab: ${chosen.length} candidate${chosen.length === 1 ? '' : 's'} promoted (${lab.exampleCounts.examples} examples).`,
    5000,
  );
  return chosen.length;
}
