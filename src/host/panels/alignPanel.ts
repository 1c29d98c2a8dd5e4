import * as path from 'node:path';
import * as vscode from 'vscode';
import { readHistory } from '../../core/checkpoint';
import { appendRecord } from '../../core/data/jsonl';
import type { VersionInfo } from '../../core/versions';
import { AlignInbound, AlignOutbound, AlignPoint, AlignRun, Comparison, parseAlignOutbound } from '../../protocol/rank';
import { alignRunState } from '../alignState';
import type { Lab } from '../lab';
import { log } from '../log';
import { GptLabPanel } from './panel';

const ALIGN_STAGES = new Set(['reward', 'dpo', 'ppo']);
const POINT_KEYS = ['loss', 'valLoss', 'reward', 'kl', 'accuracy', 'margin', 'rewardChosen', 'rewardRejected'] as const;

/** history.jsonl records → curve points (numbers only; malformed records dropped). */
export function alignPoints(records: Record<string, unknown>[]): AlignPoint[] {
  const out: AlignPoint[] = [];
  for (const r of records) {
    if (typeof r.step !== 'number' || !Number.isFinite(r.step)) continue;
    const p: AlignPoint = { step: r.step };
    for (const k of POINT_KEYS) if (typeof r[k] === 'number' && Number.isFinite(r[k])) p[k] = r[k] as number;
    out.push(p);
  }
  return out;
}

/** A blind A/B judgement the user made (kept in <storage>/judgements.jsonl). */
export interface Judgement {
  version: string;
  parent: string;
  after: number;
  before: number;
  ties: number;
  /** The aligned version's human win rate (ties half). */
  winRate: number;
}

/**
 * "GPT Lab: Show Alignment": each alignment run's curves (reward, KL, accuracy), the parent's and the aligned
 * version's completions of held-out prompts scored by a reward model with the win rate, and a blind A/B mode for
 * the user's own win rate. One per window.
 */
export class AlignPanel extends GptLabPanel<AlignInbound, AlignOutbound> {
  static readonly viewType = 'gptLab.alignment';
  static current: AlignPanel | undefined;
  private selected: string | undefined;
  /** The comparison shown now, and the last judgement (for tests). */
  comparison: Comparison | undefined;
  judged: Judgement | undefined;
  /** The runs shown now (for tests). */
  runs: AlignRun[] = [];
  /** Settles when the comparison asked for last is shown. */
  comparing: Promise<void> = Promise.resolve();

  static async show(lab: Lab, version?: string): Promise<AlignPanel> {
    const p =
      AlignPanel.current ??
      new AlignPanel(
        GptLabPanel.create(AlignPanel.viewType, lab, 'GPT Lab: Alignment', { viewColumn: vscode.ViewColumn.Active }),
        lab,
      );
    AlignPanel.current = p;
    p.panel.reveal(undefined, false);
    await lab.versions.refresh();
    p.selected = version ?? p.newest()?.name;
    await p.postRuns();
    p.autoCompare();
    return p;
  }

  static async revive(panel: vscode.WebviewPanel, lab: Lab): Promise<void> {
    const p = (AlignPanel.current = new AlignPanel(GptLabPanel.restore(panel, lab), lab));
    await lab.versions.refresh();
    p.selected = p.newest()?.name;
    await p.postRuns();
  }

  private constructor(panel: vscode.WebviewPanel, lab: Lab) {
    super(panel, lab, {
      script: 'align.js',
      title: 'GPT Lab: Alignment',
      body: '<main id="app"></main>',
      css: ['rank.css'],
    });
  }

  private aligned(): VersionInfo[] {
    return this.lab.versions.list.filter((v) => ALIGN_STAGES.has(v.stage));
  }

  private newest(): VersionInfo | undefined {
    const a = this.aligned();
    return [...a].reverse().find((v) => v.stage !== 'reward') ?? a[a.length - 1];
  }

  private rewards(): VersionInfo[] {
    return this.lab.versions.list.filter((v) => v.stage === 'reward').reverse();
  }

  private async postRuns(): Promise<void> {
    const runs: AlignRun[] = [];
    for (const v of this.aligned()) {
      const h = await readHistory(v.dir).catch(() => ({ records: [] as Record<string, unknown>[] }));
      const s = await alignRunState(v.dir).catch(() => undefined);
      runs.push({
        version: v.name,
        stage: v.stage,
        parent: this.lab.versions.parentOf(v)?.name ?? v.parent,
        points: alignPoints(h.records),
        metrics: v.metrics,
        ...(s && s.fraction < 1 && { stopped: { step: s.step, fraction: s.fraction } }),
      });
    }
    this.runs = runs;
    this.post({ type: 'runs', runs, selected: this.selected, rewards: this.rewards().map((v) => v.name) });
  }

  /** A DPO or PPO run is compared as soon as it is shown: with PPO's own reward model, else the newest one. */
  private autoCompare(): void {
    const v = this.lab.versions.get(this.selected);
    if (!v || v.stage === 'reward') return;
    const own =
      typeof v.data?.reward === 'string'
        ? this.lab.versions.get(this.lab.versions.currentName(v.data.reward))
        : undefined;
    this.comparing = this.compare(v.name, own?.name ?? this.rewards()[0]?.name).then(() => undefined);
  }

  /** Compares `version` with its parent on held-out prompts in the inference worker (scored when a reward is given). */
  async compare(version: string, reward?: string): Promise<Comparison | undefined> {
    const v = this.lab.versions.get(version);
    const parent = v && this.lab.versions.parentOf(v);
    if (!v || !parent) {
      this.post({
        type: 'error',
        message: `"${version}" ${v ? 'has no parent version left to compare with' : 'is not a version any more'}.`,
      });
      return undefined;
    }
    const rm = reward !== undefined ? this.lab.versions.get(reward) : undefined;
    this.post({
      type: 'busy',
      message: `Both versions write completions of held-out prompts${rm ? `; ${rm.name} scores them` : ''}…`,
    });
    try {
      const r = await this.lab.inference.request('compare', {
        parentDir: parent.dir,
        versionDir: v.dir,
        rewardDir: rm?.dir,
        dataFile: typeof v.data?.file === 'string' ? v.data.file : this.lab.preferences.file,
        maxPrompts: 12,
        maxTokens: 24,
      });
      const c: Comparison = { ...r, version: v.name, parent: parent.name, ...(rm && { reward: rm.name }) };
      this.comparison = c;
      this.post({ type: 'comparison', comparison: c });
      return c;
    } catch (err) {
      this.post({ type: 'error', message: (err as Error).message });
      return undefined;
    }
  }

  protected parse(raw: unknown): AlignOutbound | undefined {
    return parseAlignOutbound(raw);
  }

  protected async handle(m: AlignOutbound): Promise<void> {
    switch (m.type) {
      case 'ready':
        await this.postRuns();
        if (this.comparison && this.comparison.version === this.selected)
          this.post({ type: 'comparison', comparison: this.comparison });
        break;
      case 'compare':
        this.selected = m.version;
        this.comparing = this.compare(m.version, m.reward).then(() => undefined);
        await this.comparing;
        break;
      case 'resume':
        this.selected = m.version;
        // The command says what happened; a finished run shows here again (AlignPanel.show).
        await vscode.commands.executeCommand('gptLab.resumeAlignment', { version: m.version });
        await this.postRuns();
        break;
      case 'judged': {
        const v = this.lab.versions.get(m.version);
        const n = m.after + m.before + m.ties;
        const j: Judgement = {
          version: m.version,
          parent: (v && this.lab.versions.parentOf(v)?.name) ?? v?.parent ?? '',
          after: m.after,
          before: m.before,
          ties: m.ties,
          winRate: n ? (m.after + m.ties / 2) / n : NaN,
        };
        this.judged = j;
        log(
          `blind A/B: ${j.version} vs ${j.parent}: preferred ${j.after}, parent ${j.before}, ties ${j.ties} (human win rate ${(j.winRate * 100).toFixed(0)}%)`,
        );
        await appendRecord(path.join(this.lab.storageDir, 'judgements.jsonl'), {
          ...j,
          time: new Date().toISOString(),
        }).catch((err: Error) => log(`judgements.jsonl: ${err.message}`));
        break;
      }
    }
  }

  protected closed(): void {
    if (AlignPanel.current === this) AlignPanel.current = undefined;
  }
}
