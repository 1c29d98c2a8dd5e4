import { promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import {
  attentionRow,
  parseInspectorOutbound,
  type AttentionData,
  type InspectorInbound,
  type InspectorOutbound,
} from '../../protocol/inspect';
import type { Lab } from '../lab';
// The same pure function the panel uses to draw, so the editor tints match the panel.
import { AttentionDecorations } from './attentionDecorations';
import { GptLabPanel } from './panel';

/** Where the inspected text came from, so the editor can be tinted and the panel restored after a reload. */
export interface InspectSource {
  uri: string;
  /** Document offsets of the inspected text. */
  start: number;
  end: number;
  label: string;
  /** The lines the model sees, when the text was longer than its context (set once the attention arrives). */
  shown?: string;
}

const MAX_LINES_ABOVE = 30;

/** The selection, or the lines around the cursor (the worker keeps the last context-length tokens). */
export function textToInspect(editor: vscode.TextEditor): InspectSource & { text: string } {
  const doc = editor.document;
  let range: vscode.Range = editor.selection;
  if (editor.selection.isEmpty) {
    const line = editor.selection.active.line;
    range = new vscode.Range(Math.max(0, line - MAX_LINES_ABOVE), 0, line, doc.lineAt(line).text.length);
  }
  const text = doc.getText(range);
  const label = `${vscode.workspace.asRelativePath(doc.uri)}:${range.start.line + 1}–${range.end.line + 1}`;
  return { uri: doc.uri.toString(), start: doc.offsetAt(range.start), end: doc.offsetAt(range.end), label, text };
}

/** "a.ts:7–9": the lines of the tokens the model sees, when the text was cut to its context; else undefined. */
async function shownLines(src: InspectSource, d: AttentionData): Promise<string | undefined> {
  if (d.totalTokens <= d.tokens.ids.length || d.tokens.offsets.length === 0) return undefined;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(src.uri));
  const from = doc.positionAt(src.start + d.tokens.offsets[0][0]).line;
  const to = doc.positionAt(src.end).line;
  return `${vscode.workspace.asRelativePath(doc.uri)}:${from + 1}–${to + 1}`;
}

/** "GPT Lab: Inspect Attention": the panel, and the editor tinted by what the hovered token attends to. */
export class InspectorPanel extends GptLabPanel<InspectorInbound, InspectorOutbound> {
  static readonly viewType = 'gptLab.inspector';
  static current: InspectorPanel | undefined;
  private data: AttentionData | undefined;
  /** What the panel shows (for tests and the export). */
  get attention(): AttentionData | undefined {
    return this.data;
  }
  private source: InspectSource | undefined;
  /** What the panel was told it shows (for tests). */
  get shownSource(): InspectSource | undefined {
    return this.source;
  }
  private readonly decorations = new AttentionDecorations();
  /** Command → drawn panel, for the benchmark. */
  lastDrawMs: number | undefined;
  private requestedAt = 0;

  static async show(lab: Lab, source: InspectSource & { text: string }): Promise<InspectorPanel> {
    const p =
      InspectorPanel.current ??
      new InspectorPanel(
        // The editor keeps the focus: moving its cursor onto a token is half of the inspector.
        GptLabPanel.create(InspectorPanel.viewType, lab, 'GPT Lab: Attention', {
          viewColumn: vscode.ViewColumn.Beside,
          preserveFocus: true,
        }),
        lab,
      );
    InspectorPanel.current = p;
    p.panel.reveal(vscode.ViewColumn.Beside, true);
    await p.load(source);
    return p;
  }

  static async revive(panel: vscode.WebviewPanel, lab: Lab, state: unknown): Promise<void> {
    const p = (InspectorPanel.current = new InspectorPanel(GptLabPanel.restore(panel, lab), lab));
    const src = (state as { source?: InspectSource } | undefined)?.source;
    if (!src || typeof src.uri !== 'string')
      return p.post({ type: 'error', message: 'Select some code and run "GPT Lab: Inspect Attention" again.' });
    try {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(src.uri));
      const text = doc.getText(new vscode.Range(doc.positionAt(src.start), doc.positionAt(src.end)));
      await p.load({ ...src, text });
    } catch {
      p.post({
        type: 'error',
        message: `${src.label} is no longer available. Select some code and run "GPT Lab: Inspect Attention" again.`,
      });
    }
  }

  private constructor(panel: vscode.WebviewPanel, lab: Lab) {
    super(panel, lab, {
      script: 'inspector.js',
      title: 'GPT Lab: Attention',
      body: '<main id="app"></main>',
      css: ['inspector.css'],
    });
    this.disposables.push(vscode.window.onDidChangeTextEditorSelection((e) => this.onCursor(e)));
  }

  private async load(source: InspectSource & { text: string }): Promise<void> {
    this.requestedAt = performance.now();
    const { text, ...src } = source;
    this.source = src;
    try {
      this.data = await this.lab.inference.request('inspect', { modelDir: this.lab.modelDir, text });
      this.source = { ...src, shown: await shownLines(src, this.data) };
      this.sendData();
    } catch (err) {
      this.post({ type: 'error', message: (err as Error).message });
    }
  }

  private sendData(): void {
    if (this.data && this.source)
      this.post({ type: 'attention', data: this.data, source: JSON.stringify(this.source) });
  }

  private editor(): vscode.TextEditor | undefined {
    return vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === this.source?.uri);
  }

  /** Token `i`'s span in the document. */
  private range(doc: vscode.TextDocument, i: number): vscode.Range {
    const [a, b] = this.data!.tokens.offsets[i];
    return new vscode.Range(doc.positionAt(this.source!.start + a), doc.positionAt(this.source!.start + b));
  }

  private onCursor(e: vscode.TextEditorSelectionChangeEvent): void {
    if (!this.data || !this.source || e.textEditor.document.uri.toString() !== this.source.uri) return;
    const offset = e.textEditor.document.offsetAt(e.selections[0].active) - this.source.start;
    const i = this.data.tokens.offsets.findIndex(([a, b]) => offset >= a && offset < b);
    if (i >= 0) this.post({ type: 'focus', token: i });
  }

  protected parse(raw: unknown): InspectorOutbound | undefined {
    return parseInspectorOutbound(raw);
  }

  protected async handle(m: InspectorOutbound): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.sendData();
        break;
      case 'drawn':
        if (this.requestedAt) this.lastDrawMs = performance.now() - this.requestedAt;
        this.requestedAt = 0;
        break;
      case 'hover': {
        const editor = this.editor();
        const d = this.data;
        if (!editor || !d) return;
        const T = d.tokens.ids.length;
        if (m.token < 0 || m.token >= T) return this.decorations.clear(editor);
        const row = attentionRow(
          d.weights,
          d.layers,
          d.heads,
          T,
          Math.min(m.layer, d.layers - 1),
          m.head === 'mean' ? 'mean' : Math.min(m.head, d.heads - 1),
          m.token,
        );
        const ranges = d.tokens.offsets.map((_, i) => this.range(editor.document, i));
        this.decorations.show(editor, ranges, row, ranges[m.token]);
        break;
      }
      case 'export':
        await this.export(m.format, m.data);
        break;
    }
  }

  private async export(format: 'svg' | 'png', data: string): Promise<void> {
    const uri = await vscode.window.showSaveDialog({
      filters: format === 'svg' ? { SVG: ['svg'] } : { PNG: ['png'] },
      saveLabel: 'Export',
    });
    if (!uri) return;
    const bytes =
      format === 'svg'
        ? new TextEncoder().encode(data)
        : Buffer.from(data.replace(/^data:image\/png;base64,/, ''), 'base64');
    await fs.writeFile(uri.fsPath, bytes);
    void vscode.window.showInformationMessage(
      `Exported the attention view to ${vscode.workspace.asRelativePath(uri)}.`,
    );
  }

  protected closed(): void {
    if (InspectorPanel.current === this) InspectorPanel.current = undefined;
    this.decorations.clear(this.editor());
    this.decorations.dispose();
  }
}
