import * as vscode from 'vscode';
import { parseStepperOutbound, type StepData, type StepperInbound, type StepperOutbound } from '../../protocol/inspect';
import type { Lab } from '../lab';
import { GptLabPanel } from './panel';

const MAX_PROMPT_CHARS = 4000;

/** The prompt for stepping: the selection, or the text before the cursor. */
export function promptAt(editor: vscode.TextEditor): string {
  const doc = editor.document;
  if (!editor.selection.isEmpty) return doc.getText(editor.selection);
  const end = doc.offsetAt(editor.selection.active);
  return doc.getText(new vscode.Range(doc.positionAt(Math.max(0, end - MAX_PROMPT_CHARS)), editor.selection.active));
}

/** "GPT Lab: Step Through Generation": next-token probabilities, one choice at a time. */
export class StepperPanel extends GptLabPanel<StepperInbound, StepperOutbound> {
  static readonly viewType = 'gptLab.stepper';
  static current: StepperPanel | undefined;
  /** The prompt's tokens, then the chosen ones. */
  private ids: number[] = [];
  /** The last step shown (for tests). */
  last: StepData | undefined;
  private promptLength = 0;
  private pendingText: string | undefined;

  static async show(lab: Lab, prompt: string): Promise<StepperPanel> {
    const p =
      StepperPanel.current ??
      new StepperPanel(
        GptLabPanel.create(StepperPanel.viewType, lab, 'GPT Lab: Generation', { viewColumn: vscode.ViewColumn.Beside }),
        lab,
      );
    StepperPanel.current = p;
    p.panel.reveal(vscode.ViewColumn.Beside, true);
    await p.start(prompt);
    return p;
  }

  static async revive(panel: vscode.WebviewPanel, lab: Lab, state: unknown): Promise<void> {
    const p = (StepperPanel.current = new StepperPanel(GptLabPanel.restore(panel, lab), lab));
    const s = state as { ids?: unknown; promptLength?: unknown } | undefined;
    const ids = Array.isArray(s?.ids) ? s.ids.filter((x): x is number => Number.isInteger(x)) : [];
    if (ids.length === 0)
      return p.post({ type: 'error', message: 'Run "GPT Lab: Step Through Generation" from the editor to start.' });
    p.ids = ids;
    p.promptLength = typeof s?.promptLength === 'number' ? Math.min(s.promptLength, ids.length) : ids.length;
    await p.compute();
  }

  private constructor(panel: vscode.WebviewPanel, lab: Lab) {
    super(panel, lab, {
      script: 'stepper.js',
      title: 'GPT Lab: Generation',
      body: '<main id="app"></main>',
      css: ['stepper.css'],
    });
  }

  private async start(prompt: string): Promise<void> {
    this.pendingText = prompt;
    this.ids = [];
    await this.compute();
  }

  private async compute(): Promise<void> {
    this.post({ type: 'busy' });
    try {
      const params = this.pendingText !== undefined ? { text: this.pendingText } : { ids: this.ids };
      const data = await this.lab.inference.request('step', { modelDir: this.lab.modelDir, ...params });
      if (this.pendingText !== undefined) {
        this.ids = data.tokens.ids.slice();
        this.promptLength = this.ids.length;
        this.pendingText = undefined;
      }
      this.last = data;
      this.post({ type: 'step', data, promptLength: this.promptLength });
    } catch (err) {
      this.post({ type: 'error', message: (err as Error).message });
    }
  }

  protected parse(raw: unknown): StepperOutbound | undefined {
    return parseStepperOutbound(raw);
  }

  protected async handle(m: StepperOutbound): Promise<void> {
    switch (m.type) {
      case 'ready':
        if (this.ids.length || this.pendingText !== undefined) await this.compute();
        break;
      case 'choose':
        await this.choose(m.token);
        break;
      case 'undo':
        if (this.ids.length > this.promptLength) this.ids.pop();
        await this.compute();
        break;
      case 'reset':
        this.ids = this.ids.slice(0, this.promptLength);
        await this.compute();
        break;
    }
  }

  /** Appends a token to the prompt and computes the next step. */
  async choose(token: number): Promise<void> {
    this.ids.push(token);
    await this.compute();
  }

  protected closed(): void {
    if (StepperPanel.current === this) StepperPanel.current = undefined;
  }
}
