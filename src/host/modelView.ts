import * as vscode from 'vscode';
import { compact, duration, megabytes } from './format';
import type { Lab } from './lab';
import { keyMetric, shortDate, stageLabel, versionSummary } from './versionText';

type Node = {
  label: string;
  description?: string;
  icon?: string;
  tooltip?: string | vscode.MarkdownString;
  command?: vscode.Command;
  children?: Node[];
  /** For menus: 'gptLab.version stage-sft active child' (see versionsNode). */
  contextValue?: string;
  /** The version a version item stands for (commands from its context menu receive the node). */
  version?: string;
  collapsed?: boolean;
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

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
      n.children
        ? n.collapsed
          ? vscode.TreeItemCollapsibleState.Collapsed
          : vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.None,
    );
    item.description = n.description;
    item.tooltip = n.tooltip;
    item.command = n.command;
    item.contextValue = n.contextValue;
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
    roots.push(...this.versionsNode());
    if (info) {
      roots.push({
        label: 'Model',
        icon: 'beaker',
        description: this.lab.versions.active,
        collapsed: this.lab.versions.list.length > 1,
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
    roots.push(this.examplesNode());
    if (info) roots.push(this.preferencesNode());
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
        ...(info && !this.lab.training ? [action('Fine-Tune on Examples', 'mortar-board', 'gptLab.finetune')] : []),
        ...(info && !this.lab.training
          ? [
              action('Rank Completions', 'list-ordered', 'gptLab.rankCompletions'),
              action('Train Reward Model', 'law', 'gptLab.trainRewardModel'),
              action('Align with DPO', 'target', 'gptLab.alignDpo'),
              action('Align with PPO', 'target', 'gptLab.alignPpo'),
            ]
          : []),
        ...(info ? [action('Show Alignment', 'graph', 'gptLab.showAlignment')] : []),
        action('Show Training Panel', 'graph-line', 'gptLab.showPanel'),
        ...(info ? [action('Show Model Info', 'info', 'gptLab.showModelInfo')] : []),
      ],
    });
    return roots;
  }

  /** Versions: each with its stage, parent, date and key metric; the active one marked. */
  private versionsNode(): Node[] {
    const store = this.lab.versions;
    if (store.list.length === 0) return [];
    const active = store.active;
    const children = [...store.list].reverse().map((v): Node => {
      const parent = store.parentOf(v)?.name ?? v.parent;
      const isActive = v.name === active;
      const tip = new vscode.MarkdownString(
        [
          `**${v.name}**${isActive ? ' — active: serves completions, the inspector and the stepper' : ''}`,
          '',
          `- ${stageLabel(v.stage)}${parent ? ` from **${parent}**` : ''}, step ${v.step}`,
          `- saved ${shortDate(v.date)}`,
          ...(keyMetric(v) ? [`- ${keyMetric(v)}`] : []),
          ...(typeof v.data?.examples === 'number'
            ? [`- ${v.data.examples} examples (${v.data.heldOut ?? 0} held out)`]
            : []),
        ].join('\n'),
      );
      return {
        label: v.name,
        description: versionSummary(v, parent),
        icon: isActive ? 'pass-filled' : 'circle-large-outline',
        tooltip: tip,
        // Menus match these words: which stage, active or not, whether its parent still exists (Roll Back).
        contextValue: [
          'gptLab.version',
          `stage-${v.stage}`,
          isActive ? 'active' : 'inactive',
          ...(store.parentOf(v) ? ['child'] : []),
        ].join(' '),
        version: v.name,
      };
    });
    return [
      {
        label: 'Versions',
        icon: 'versions',
        // Not "gptLab.version…": the menus of one version match that prefix. Import a Trained Model sits here.
        contextValue: 'gptLab.modelVersions',
        description: `${store.list.length} · active: ${active}`,
        tooltip:
          'Every stage writes a new version beside its parent. Right-click one to use, rename, delete or roll back.',
        children,
      },
    ];
  }

  /** Stage 3 data: the preference pairs from rankings, and what to do with them. */
  private preferencesNode(): Node {
    const { pairs, prompts, problems } = this.lab.preferences.counts;
    return {
      label: 'Preferences',
      icon: 'list-ordered',
      description: `${pairs} pairs · ${prompts} prompts`,
      tooltip:
        'Chosen/rejected pairs from your rankings (TRL JSONL: {"prompt", "chosen", "rejected"} per line). A reward model and DPO learn from them.',
      collapsed: pairs === 0,
      children: [
        {
          label: 'Pairs',
          description: `${pairs}${problems ? ` · ${problems} lines skipped` : ''} · preferences.jsonl`,
          icon: 'note',
          tooltip: 'Click to open preferences.jsonl. "Delete a Preference" removes one pair.',
          command: { command: 'gptLab.openPreferences', title: 'Open Preferences' },
        },
        action('Rank Completions', 'list-ordered', 'gptLab.rankCompletions'),
        action('Import Preferences', 'cloud-download', 'gptLab.importPreferences'),
        ...(pairs
          ? [
              action('Export Preferences', 'cloud-upload', 'gptLab.exportPreferences'),
              action('Delete a Preference', 'trash', 'gptLab.deletePreference'),
            ]
          : []),
      ],
    };
  }

  /** SFT data: the examples, the candidates from accepted completions, and what to do with them. */
  private examplesNode(): Node {
    const { examples, candidates, problems } = this.lab.exampleCounts;
    return {
      label: 'Examples',
      icon: 'mortar-board',
      description: `${plural(examples, 'example')} · ${plural(candidates, 'candidate')}`,
      tooltip: 'Prompt → ideal completion pairs that fine-tuning (SFT) teaches the model.',
      collapsed: examples === 0 && candidates === 0,
      children: [
        {
          label: 'Examples',
          description: `${examples}${problems ? ` · ${problems} lines skipped` : ''} · examples.jsonl`,
          icon: 'note',
          tooltip: 'Your examples (TRL JSONL: {"prompt", "completion"} per line). Click to open the file.',
          command: { command: 'gptLab.openExamples', title: 'Open Examples' },
        },
        {
          label: 'Candidates',
          description: `${candidates} · candidates.jsonl`,
          icon: 'inbox',
          tooltip:
            'Completions you accepted (Tab, or typed through), with the prompt the model saw. Promote the good ones to examples. Click to open the file.',
          command: { command: 'gptLab.openCandidates', title: 'Open Candidates' },
        },
        action('Add Example', 'add', 'gptLab.addExample'),
        ...(candidates ? [action('Promote Candidates', 'arrow-up', 'gptLab.promoteCandidates')] : []),
        action('Import Examples', 'cloud-download', 'gptLab.importExamples'),
        ...(examples ? [action('Export Examples', 'cloud-upload', 'gptLab.exportExamples')] : []),
      ],
    };
  }
}
