import * as vscode from 'vscode';
import { Preference, rankingToPairs } from '../../core/data/preferences';
import {
  MAX_COMPLETION_CHARS,
  MAX_RANK_COUNT,
  MIN_RANK_COUNT,
  parseRankOutbound,
  RankInbound,
  RankOutbound,
} from '../../protocol/rank';
import { config } from '../config';
import type { Lab } from '../lab';
import { log } from '../log';
import { GptLabPanel } from './panel';

/** What to rank: a prompt from the editor, and how many completions to ask for. */
export interface RankRequest {
  prompt: string;
  languageId: string;
  count: number;
  /** Sampling seed (the next "Sample again" adds to it). */
  seed?: number;
}

/** The completions a reloaded board held (its webview state), if the state has that shape. */
function savedRanking(
  state: unknown,
): { prompt: string; completions: string[]; languageId: string; asked: number } | undefined {
  const r = (state as { rank?: Record<string, unknown> } | undefined)?.rank;
  if (typeof r !== 'object' || r === null) return undefined;
  const { prompt, completions, languageId, asked } = r;
  if (typeof prompt !== 'string' || typeof languageId !== 'string' || !Array.isArray(completions)) return undefined;
  if (completions.length < MIN_RANK_COUNT || completions.length > MAX_RANK_COUNT) return undefined;
  if (!completions.every((c) => typeof c === 'string' && c.length <= MAX_COMPLETION_CHARS)) return undefined;
  const n = Number.isInteger(asked)
    ? Math.min(MAX_RANK_COUNT, Math.max(MIN_RANK_COUNT, asked as number))
    : completions.length;
  return { prompt, completions: completions as string[], languageId, asked: n };
}

/** One submitted ranking (for tests and the log). */
export interface RankSubmission {
  prompt: string;
  completions: string[];
  ranks: number[];
  pairs: Preference[];
}

/**
 * "GPT Lab: Rank Completions": the active version's completions of one prompt on a board the user orders; Submit
 * appends the ranking's chosen/rejected pairs to preferences.jsonl. One board per window.
 */
export class RankPanel extends GptLabPanel<RankInbound, RankOutbound> {
  static readonly viewType = 'gptLab.rank';
  static current: RankPanel | undefined;
  private request: RankRequest | undefined;
  private seed = 0;
  /** The completions shown now (what a submit must rank). */
  completions: string[] = [];
  private readonly submitted = new vscode.EventEmitter<RankSubmission>();
  /** Fires after a ranking's pairs are written. */
  readonly onDidSubmit = this.submitted.event;
  /** The prompt the board ranks completions of (undefined before one is given). */
  get prompt(): string | undefined {
    return this.request?.prompt;
  }
  /** Resolves when the current samples are on the board (tests wait for it). */
  ready: Promise<void> = Promise.resolve();

  static async show(lab: Lab, request: RankRequest): Promise<RankPanel> {
    const p =
      RankPanel.current ??
      new RankPanel(
        GptLabPanel.create(RankPanel.viewType, lab, 'GPT Lab: Rank', { viewColumn: vscode.ViewColumn.Beside }),
        lab,
      );
    RankPanel.current = p;
    p.panel.reveal(vscode.ViewColumn.Beside, false);
    p.request = request;
    p.seed = request.seed ?? Math.floor(Math.random() * 1e6);
    p.ready = p.sample();
    await p.ready;
    return p;
  }

  /**
   * After a window reload: the completions the board showed come back from its saved state (the webview restores
   * its order); without them, it says how to start.
   */
  static revive(panel: vscode.WebviewPanel, lab: Lab, state: unknown): void {
    const p = (RankPanel.current = new RankPanel(GptLabPanel.restore(panel, lab), lab));
    const r = savedRanking(state);
    if (r) {
      p.request = { prompt: r.prompt, languageId: r.languageId, count: r.asked };
      p.completions = r.completions;
      return; // the webview's 'ready' asks for them
    }
    p.post({
      type: 'error',
      message: 'Put the cursor where the model should continue, then run "GPT Lab: Rank Completions".',
    });
  }

  private constructor(panel: vscode.WebviewPanel, lab: Lab) {
    super(panel, lab, { script: 'rank.js', title: 'GPT Lab: Rank', body: '<main id="app"></main>', css: ['rank.css'] });
    this.disposables.push(this.submitted);
  }

  private async sample(): Promise<void> {
    const r = this.request;
    if (!r) return;
    this.completions = [];
    this.post({ type: 'busy', message: `The model writes ${r.count} completions…` });
    try {
      const out = await this.lab.inference.request('rank', {
        modelDir: this.lab.modelDir,
        prompt: r.prompt,
        count: r.count,
        temperature: config.rankTemperature(),
        maxTokens: config.rankMaxTokens(),
        seed: this.seed,
      });
      if (out.completions.length < 2) {
        this.post({
          type: 'error',
          message: `The model wrote only ${out.completions.length} distinct completion${out.completions.length === 1 ? '' : 's'} here: there is nothing to rank. Try another place, or raise gptLab.rank.temperature.`,
        });
        return;
      }
      this.completions = out.completions;
      log(`rank: ${out.completions.length} distinct completions in ${out.rounds} round(s), ${Math.round(out.ms)} ms`);
      this.post({
        type: 'rank',
        prompt: r.prompt,
        completions: out.completions,
        languageId: r.languageId,
        version: this.lab.versions.active,
        asked: r.count,
        total: this.lab.preferences.counts.pairs,
      });
    } catch (err) {
      this.post({ type: 'error', message: (err as Error).message });
    }
  }

  protected parse(raw: unknown): RankOutbound | undefined {
    return parseRankOutbound(raw);
  }

  protected async handle(m: RankOutbound): Promise<void> {
    switch (m.type) {
      case 'ready':
        // A webview that (re)loaded after the samples were posted gets them again.
        if (this.completions.length && this.request) {
          this.post({
            type: 'rank',
            prompt: this.request.prompt,
            completions: this.completions,
            languageId: this.request.languageId,
            version: this.lab.versions.active,
            asked: this.request.count,
            total: this.lab.preferences.counts.pairs,
          });
        }
        break;
      case 'submit':
        await this.submit(m.completions, m.ranks, m.edited);
        break;
      case 'skip':
        this.completions = [];
        this.post({ type: 'skipped' });
        break;
      case 'again':
        this.seed += 7919;
        this.ready = this.sample();
        await this.ready;
        break;
    }
  }

  /** Writes the ranking's pairs. Only the completions shown (or edits of them) are accepted. */
  async submit(completions: string[], ranks: number[], edited: boolean[]): Promise<RankSubmission | undefined> {
    const r = this.request;
    if (!r || completions.length !== this.completions.length) {
      this.post({ type: 'error', message: 'This ranking does not match the completions shown: sample again.' });
      return undefined;
    }
    if (completions.some((c, i) => !edited[i] && c !== this.completions[i])) {
      this.post({ type: 'error', message: 'A completion changed without an edit: sample again.' });
      return undefined;
    }
    try {
      const pairs = rankingToPairs(r.prompt, { completions, ranks }).filter((p) => p.chosen !== p.rejected);
      if (pairs.length === 0) {
        this.post({ type: 'error', message: 'Every completion ties: a ranking needs at least two places.' });
        return undefined;
      }
      await this.lab.preferences.append(pairs);
      log(`rank: ${pairs.length} pairs appended to ${this.lab.preferences.file}`);
      this.completions = [];
      this.post({ type: 'submitted', pairs: pairs.length, total: this.lab.preferences.counts.pairs });
      const s = { prompt: r.prompt, completions, ranks, pairs };
      this.submitted.fire(s);
      return s;
    } catch (err) {
      this.post({ type: 'error', message: `The ranking could not be saved: ${(err as Error).message}` });
      return undefined;
    }
  }

  protected closed(): void {
    if (RankPanel.current === this) RankPanel.current = undefined;
  }
}
