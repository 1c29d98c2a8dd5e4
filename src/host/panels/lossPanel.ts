import * as vscode from 'vscode';
import { readHistory } from '../../core/checkpoint';
import { progressText } from '../../protocol/format';
import type { LossPanelInbound, LossPanelOutbound, PanelStatus } from '../../protocol/lossPanel';
import type { Lab } from '../lab';
import { log } from '../log';
import { historyView, parseLossPanelOutbound } from './lossMessages';
import { GptLabPanel } from './panel';

/**
 * The training panel: live train and validation loss, learning rate and tokens/s, and for fine-tuning the held-out
 * token accuracy. It shows the run going on, else the active version's history. One per window.
 */
export class LossPanel extends GptLabPanel<LossPanelInbound, LossPanelOutbound> {
  static readonly viewType = 'gptLab.lossPanel';
  private static current: LossPanel | undefined;

  static createOrShow(lab: Lab): LossPanel {
    if (LossPanel.current) {
      LossPanel.current.panel.reveal(vscode.ViewColumn.Active);
      return LossPanel.current;
    }
    const panel = GptLabPanel.create(LossPanel.viewType, lab, 'GPT Lab: Training', {
      viewColumn: vscode.ViewColumn.Active,
    });
    return (LossPanel.current = new LossPanel(panel, lab));
  }

  /** After a window reload, VS Code hands back the panel it saved. */
  static revive(panel: vscode.WebviewPanel, lab: Lab): void {
    LossPanel.current = new LossPanel(GptLabPanel.restore(panel, lab), lab);
  }

  private constructor(panel: vscode.WebviewPanel, lab: Lab) {
    super(panel, lab, {
      script: 'loss.js',
      title: 'GPT Lab: Training',
      body: `<header><h1>Training</h1><span id="status" role="status"></span><span id="replicas" title="Data parallelism: each replica (a worker thread) trains on its share of every batch; their gradients are averaged through shared memory (the all-reduce), then every replica takes the same step." hidden></span><span id="actions"></span></header>
<p id="notice" class="error" role="alert" hidden></p>
<p class="explain">Loss is how surprised the model is by the next token (lower is better). Training loss is measured on the batches it learns from; validation loss on files it never sees.</p>
<section><h2>Loss</h2><div class="chart" id="loss-chart" data-train-points="0" data-val-points="0"><canvas aria-label="Training and validation loss by step"></canvas></div></section>
<section id="accuracy" hidden><h2>Token accuracy on held-out examples</h2><div class="chart small" id="accuracy-chart" data-points="0"><canvas aria-label="Held-out token accuracy by step"></canvas></div></section>
<section><h2>Learning rate and speed</h2><div class="chart small" id="rate-chart"><canvas aria-label="Learning rate and tokens per second by step"></canvas></div></section>`,
    });
    this.disposables.push(
      lab.worker.onEvent((e) => {
        if (e.event === 'progress') {
          this.post({
            type: 'point',
            point: { step: e.data.step, loss: e.data.loss, lr: e.data.lr, tokensPerSec: e.data.tokensPerSec },
          });
        } else if (e.event === 'eval') {
          const { step, valLoss, valBpb, tokenAccuracy } = e.data;
          this.post({ type: 'point', point: { step, valLoss, valBpb, tokenAccuracy } });
        }
      }),
      lab.onDidChange(() => {
        // A run starting in another folder (fine-tuning into a new version), or another version made active.
        if (this.shownDir !== undefined && this.shownDir !== this.historyDir()) void this.postHistory();
        else this.post({ type: 'status', status: this.status() });
      }),
    );
  }

  /** The folder whose history is drawn: the running job's, else the active version's. */
  private shownDir: string | undefined;
  private historyDir(): string {
    return this.lab.runDir ?? this.lab.modelDir;
  }

  private async postHistory(): Promise<void> {
    const dir = (this.shownDir = this.historyDir());
    // A missing file is no history yet (no notice); a damaged or unreadable one is said, not swallowed.
    const { points, notice } = historyView(await readHistory(dir).catch((error) => ({ error })));
    if (notice) log(`training panel: ${notice}`);
    this.post({ type: 'history', points, status: this.status(), notice });
  }

  private status(): PanelStatus {
    const { lab } = this;
    if (lab.training) {
      const p = lab.progress;
      return {
        state: 'training',
        ...(p?.replicas && p.replicas > 1 && { replicas: { count: p.replicas, allReduceMs: p.allReduceMs ?? NaN } }),
        text: p
          ? `${p.stage === 'sft' ? 'Fine-tuning' : 'Training'} ${progressText(p, { percent: true, step: true })}`
          : 'Preparing: reading files and training the tokenizer…',
      };
    }
    if (lab.info) {
      const i = lab.info;
      return {
        state: 'ready',
        text: `Model ready (${lab.versions.active}) · step ${i.step} · val loss ${i.valLoss?.toFixed(3) ?? '—'}${i.valBpb !== undefined ? ` (${i.valBpb.toFixed(2)} bits/byte)` : ''}`,
      };
    }
    return { state: 'none', text: 'No model yet. Train one on this workspace to see its loss fall.' };
  }

  protected parse(raw: unknown): LossPanelOutbound | undefined {
    return parseLossPanelOutbound(raw);
  }

  protected async handle(m: LossPanelOutbound): Promise<void> {
    switch (m.type) {
      case 'ready':
        await this.postHistory();
        break;
      case 'command':
        await vscode.commands.executeCommand(`gptLab.${m.command}`);
        break;
    }
  }

  protected closed(): void {
    if (LossPanel.current === this) LossPanel.current = undefined;
  }
}
