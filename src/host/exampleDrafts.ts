import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { appendExample, SftExample } from '../core/data/examples';
import { completionInDraft } from './examplePrompt';
import type { Lab } from './lab';
import { log } from './log';

interface Draft {
  prompt: string;
  source: string;
}

/**
 * The editor tabs "Add Example" opens: a file in `<storage>/drafts/` that starts with the prompt; the user writes
 * the ideal completion after it. It is kept saved as they type (so closing never asks), and when the tab closes —
 * or on "GPT Lab: Save Example" — what follows the prompt is appended to examples.jsonl (nothing when empty).
 * Each draft's prompt sits beside it in `<draft>.json`, so a window reload does not lose it.
 */
export class ExampleDrafts implements vscode.Disposable {
  private readonly drafts = new Map<string, Draft>();
  private readonly saveTimers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];
  private counter = 0;

  constructor(private readonly lab: Lab) {
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((e) => this.changed(e.document)),
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        for (const tab of e.closed) {
          const uri = tab.input instanceof vscode.TabInputText ? tab.input.uri : undefined;
          if (uri && this.drafts.has(uri.fsPath) && !this.openInTab(uri)) void this.finish(uri);
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((e) => this.updateContext(e)),
    );
    void this.restore();
  }

  get dir(): string {
    return path.join(this.lab.storageDir, 'drafts');
  }

  isDraft(uri: vscode.Uri): boolean {
    return this.drafts.has(uri.fsPath);
  }

  /** Opens a new draft tab holding `prompt`, the cursor after it. */
  async open(prompt: string, ext: string, source = 'manual'): Promise<vscode.TextEditor> {
    await fs.mkdir(this.dir, { recursive: true });
    const name = `example-${Date.now().toString(36)}-${++this.counter}${/^\.[\w-]{1,12}$/.test(ext) ? ext : '.txt'}`;
    const file = path.join(this.dir, name);
    await fs.writeFile(file + '.json', JSON.stringify({ prompt, source }));
    await fs.writeFile(file, prompt);
    const uri = vscode.Uri.file(file);
    this.drafts.set(uri.fsPath, { prompt, source });
    const doc = await vscode.workspace.openTextDocument(uri);
    const end = doc.positionAt(doc.getText().length);
    // The cursor starts after the prompt (given as an option, so no keystroke can land before it).
    const editor = await vscode.window.showTextDocument(doc, {
      viewColumn: vscode.ViewColumn.Beside,
      preview: false,
      selection: new vscode.Range(end, end),
    });
    this.updateContext(editor);
    return editor;
  }

  /**
   * Saves the draft as an example (if it holds a completion) and forgets it; returns the example. Closes its
   * tabs when `close`.
   */
  async finish(uri: vscode.Uri, close = false): Promise<SftExample | undefined> {
    const draft = this.drafts.get(uri.fsPath);
    if (!draft) return undefined;
    this.drafts.delete(uri.fsPath);
    clearTimeout(this.saveTimers.get(uri.fsPath));
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uri.fsPath && !d.isClosed);
    const text = doc ? doc.getText() : await fs.readFile(uri.fsPath, 'utf8').catch(() => undefined);
    if (close) {
      if (doc?.isDirty) await doc.save();
      const tabs = vscode.window.tabGroups.all
        .flatMap((g) => g.tabs)
        .filter((t) => t.input instanceof vscode.TabInputText && t.input.uri.fsPath === uri.fsPath);
      await vscode.window.tabGroups.close(tabs);
    }
    const completion = text === undefined ? undefined : completionInDraft(text, draft.prompt);
    if (completion === undefined) {
      void vscode.window.showWarningMessage(
        `The example was not saved: the prompt at the top of the tab was changed. The draft stays in ${uri.fsPath}.`,
      );
      return undefined;
    }
    await this.remove(uri.fsPath);
    if (completion.trim() === '') {
      vscode.window.setStatusBarMessage('GPT Lab: the completion was empty, so no example was saved.', 5000);
      return undefined;
    }
    const example: SftExample = { prompt: draft.prompt, completion, source: draft.source };
    try {
      await appendExample(this.lab.examplesFile, example);
    } catch (err) {
      void vscode.window.showErrorMessage(`GPT Lab could not save the example: ${(err as Error).message}`);
      return undefined;
    }
    await this.lab.recountExamples();
    vscode.window.setStatusBarMessage(
      `GPT Lab: example saved (${this.lab.exampleCounts.examples} in examples.jsonl).`,
      5000,
    );
    log(`example saved: ${JSON.stringify(example.prompt.slice(-60))} → ${JSON.stringify(completion.slice(0, 60))}`);
    return example;
  }

  private openInTab(uri: vscode.Uri): boolean {
    return vscode.window.tabGroups.all.some((g) =>
      g.tabs.some((t) => t.input instanceof vscode.TabInputText && t.input.uri.fsPath === uri.fsPath),
    );
  }

  /** Keeps the draft saved, so that closing its tab never asks whether to save. */
  private changed(doc: vscode.TextDocument): void {
    if (!this.drafts.has(doc.uri.fsPath)) return;
    clearTimeout(this.saveTimers.get(doc.uri.fsPath));
    this.saveTimers.set(
      doc.uri.fsPath,
      setTimeout(() => {
        if (!doc.isClosed && doc.isDirty) void doc.save();
      }, 150),
    );
  }

  private updateContext(editor: vscode.TextEditor | undefined): void {
    void vscode.commands.executeCommand(
      'setContext',
      'gptLab.editingExample',
      editor !== undefined && this.drafts.has(editor.document.uri.fsPath),
    );
  }

  private async remove(file: string): Promise<void> {
    await fs.rm(file, { force: true });
    await fs.rm(file + '.json', { force: true });
  }

  /** Drafts from before a reload: their prompts come back from the files beside them. */
  private async restore(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return;
    }
    for (const n of names.filter((n) => n.endsWith('.json'))) {
      const file = path.join(this.dir, n.slice(0, -'.json'.length));
      try {
        const d = JSON.parse(await fs.readFile(path.join(this.dir, n), 'utf8')) as Partial<Draft>;
        if (typeof d.prompt === 'string' && existsSync(file)) {
          this.drafts.set(vscode.Uri.file(file).fsPath, { prompt: d.prompt, source: String(d.source ?? 'manual') });
        }
      } catch {
        // a damaged sidecar: that draft is left as a plain file
      }
    }
    this.updateContext(vscode.window.activeTextEditor);
  }

  dispose(): void {
    for (const t of this.saveTimers.values()) clearTimeout(t);
    for (const d of this.disposables) d.dispose();
  }
}
