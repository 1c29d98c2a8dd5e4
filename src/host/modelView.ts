import * as vscode from 'vscode';
import { compact, duration, megabytes } from './format';
import type { Lab } from './lab';

type Node = {
  label: string;
  description?: string;
  icon?: string;
  tooltip?: string;
  command?: vscode.Command;
  children?: Node[];
};

const action = (label: string, icon: string, command: string): Node => ({
  label,
  icon,
  command: { command, title: label },
});

/** The GPT Lab view: the model, the corpus it learnt from, and what to do next. */
export class ModelViewProvider implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly lab: Lab) {
    lab.onDidChange(() => this.changed.fire());
  }

  getTreeItem(n: Node): vscode.TreeItem {
    const item = new vscode.TreeItem(
      n.label,
      n.children ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
    );
    item.description = n.description;
    item.tooltip = n.tooltip;
    item.command = n.command;
    if (n.icon) item.iconPath = new vscode.ThemeIcon(n.icon);
    return item;
  }

  getChildren(n?: Node): Node[] {
    if (n) return n.children ?? [];
    const { info, progress } = this.lab;
    if (!info && !this.lab.training) return []; // the welcome view shows instead
    const roots: Node[] = [];
    if (this.lab.training) {
      roots.push({
        label: 'Training',
        icon: 'sync~spin',
        description: progress
          ? `${Math.floor(progress.fraction * 100)}% · loss ${progress.loss.toFixed(3)}`
          : 'preparing…',
        command: { command: 'gptLab.showPanel', title: 'Show Training Panel' },
      });
    }
    if (info) {
      roots.push({
        label: 'Model',
        icon: 'beaker',
        children: [
          { label: 'Preset', description: info.preset ?? 'custom' },
          {
            label: 'Parameters',
            description: `${compact(info.parameters)} (${info.layers} layers × ${info.embedding}, ${info.heads} heads)`,
          },
          { label: 'Context', description: `${info.context} tokens, vocabulary ${info.vocab}` },
          {
            label: 'Trained',
            description: `${info.step} steps · ${compact(info.tokensSeen)} tokens · ${duration(info.trainingMs)}`,
          },
          {
            label: 'Validation loss',
            description:
              info.valLoss !== undefined
                ? `${info.valLoss.toFixed(3)}${info.valBpb !== undefined ? ` (${info.valBpb.toFixed(2)} bits/byte)` : ''}`
                : '—',
            tooltip: 'Loss on held-out files of the workspace: lower is better.',
          },
          ...(info.completions
            ? [
                {
                  label: 'Completions',
                  description: `${(info.completions.exactMatch * 100).toFixed(0)}% exact · ${(info.completions.charsSaved * 100).toFixed(0)}% chars saved`,
                  tooltip: `On ${info.completions.positions} cursor positions in held-out files: how often the suggested rest of the line is exactly right, and the share of characters it would have saved.`,
                },
              ]
            : []),
          { label: 'Backend', description: this.lab.backend ?? 'chosen when the worker starts' },
          { label: 'Saved', description: new Date(info.savedAt).toLocaleString() },
        ],
      });
    }
    const corpus = info?.corpus;
    if (corpus) {
      roots.push({
        label: 'Corpus',
        icon: 'files',
        description: `${corpus.files} files, ${megabytes(corpus.bytes)}`,
        children: corpus.languages.map((l) => ({ label: l.language, description: megabytes(l.bytes) })),
      });
    }
    roots.push({
      label: 'Actions',
      icon: 'rocket',
      children: [
        ...(this.lab.training
          ? [action('Stop Training', 'debug-stop', 'gptLab.stop')]
          : [
              action('Train on Workspace', 'play', 'gptLab.train'),
              ...(info ? [action('Resume Training', 'debug-continue', 'gptLab.resume')] : []),
            ]),
        action('Show Training Panel', 'graph-line', 'gptLab.showPanel'),
        ...(info ? [action('Show Model Info', 'info', 'gptLab.showModelInfo')] : []),
      ],
    });
    return roots;
  }
}
