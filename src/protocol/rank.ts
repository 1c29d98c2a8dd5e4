/**
 * The ranking board (GPT Lab: Rank Completions) and the alignment panel: what the host sends them and what they
 * may send back. The host validates every message from a webview with the parsers at the end of this file
 * (plain functions, no vscode: unit tests import them).
 */

/** Most completions one ranking holds (InstructGPT ranked 4 to 9). */
export const MAX_RANK_COUNT = 9;
export const MIN_RANK_COUNT = 2;
/** Longest completion (after an edit) the board accepts, in characters. */
export const MAX_COMPLETION_CHARS = 20_000;

/** host → ranking board */
export type RankInbound =
  /** A prompt and its distinct completions to order (best first), in the order the model wrote them. */
  | {
      type: 'rank';
      prompt: string;
      completions: string[];
      /** The editor's language (a label, and a class for colouring). */
      languageId: string;
      /** The version that wrote them. */
      version: string;
      /** How many were asked for (fewer came when the model kept repeating itself). */
      asked: number;
      /** Preference pairs in the file so far. */
      total: number;
    }
  | { type: 'busy'; message: string }
  | { type: 'error'; message: string }
  /** The ranking was saved: `pairs` lines appended, `total` in the file now. */
  | { type: 'submitted'; pairs: number; total: number }
  | { type: 'skipped' };

/** ranking board → host */
export type RankOutbound =
  | { type: 'ready' }
  /**
   * The user's ranking: `completions` (each possibly edited) and `ranks[i]` = completion i's place, 0 = best;
   * equal ranks are ties. `edited[i]`: the user rewrote completion i.
   */
  | { type: 'submit'; completions: string[]; ranks: number[]; edited: boolean[] }
  /** Save nothing for this prompt. */
  | { type: 'skip' }
  /** Sample another set for the same prompt. */
  | { type: 'again' };

const isObject = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null && !Array.isArray(m);

/** A message from the ranking board if it has the promised shape, else undefined. */
export function parseRankOutbound(m: unknown): RankOutbound | undefined {
  if (!isObject(m)) return undefined;
  switch (m.type) {
    case 'ready':
    case 'skip':
    case 'again':
      return { type: m.type };
    case 'submit': {
      const { completions, ranks, edited } = m;
      if (!Array.isArray(completions) || !Array.isArray(ranks) || !Array.isArray(edited)) return undefined;
      const k = completions.length;
      if (k < MIN_RANK_COUNT || k > MAX_RANK_COUNT || ranks.length !== k || edited.length !== k) return undefined;
      if (!completions.every((c) => typeof c === 'string' && c.trim() !== '' && c.length <= MAX_COMPLETION_CHARS))
        return undefined;
      if (!ranks.every((r) => Number.isInteger(r) && (r as number) >= 0 && (r as number) < k)) return undefined;
      if (!edited.every((e) => typeof e === 'boolean')) return undefined;
      return {
        type: 'submit',
        completions: completions as string[],
        ranks: ranks as number[],
        edited: edited as boolean[],
      };
    }
    default:
      return undefined;
  }
}

// ---- the alignment panel -------------------------------------------------------------------------------------

/** One point of a run's curves (history.jsonl of an aligned version): evaluations and training loss by step. */
export interface AlignPoint {
  step: number;
  loss?: number;
  valLoss?: number;
  reward?: number;
  kl?: number;
  accuracy?: number;
  margin?: number;
  rewardChosen?: number;
  rewardRejected?: number;
}

/** An aligned version (reward-N, dpo-N, ppo-N) and its curves. */
export interface AlignRun {
  version: string;
  stage: string;
  parent?: string;
  points: AlignPoint[];
  /** The figures the run ended with (lineage metrics). */
  metrics: Record<string, number>;
  /** A run stopped before its budget: its step and the share of the budget done (Resume continues it). */
  stopped?: { step: number; fraction: number };
}

/** The parent's and the aligned version's completion of one held-out prompt, scored by the reward model. */
export interface CompareRow {
  prompt: string;
  before: string;
  after: string;
  beforeScore?: number;
  afterScore?: number;
}

export interface Comparison {
  version: string;
  parent: string;
  /** The reward model that scored them, if one did. */
  reward?: string;
  rows: CompareRow[];
  /** Share of prompts where the aligned version's completion scores higher (ties half); absent without scores. */
  winRate?: number;
  meanBefore?: number;
  meanAfter?: number;
  /** Where the prompts came from ("12 held-out prompts of preferences.jsonl"). */
  source: string;
}

/** host → alignment panel */
export type AlignInbound =
  | { type: 'runs'; runs: AlignRun[]; selected?: string; rewards: string[] }
  | { type: 'busy'; message: string }
  | { type: 'comparison'; comparison: Comparison }
  | { type: 'error'; message: string };

/** alignment panel → host */
export type AlignOutbound =
  | { type: 'ready' }
  /** Compare this aligned version with its parent (scored by `reward`, or unscored without one). */
  | { type: 'compare'; version: string; reward?: string }
  /** The blind judging ended: wins of the aligned version, of the parent, and ties. */
  | { type: 'judged'; version: string; after: number; before: number; ties: number }
  /** Continue this stopped run (GPT Lab: Resume Alignment). */
  | { type: 'resume'; version: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const count = (x: unknown) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 1000;

export function parseAlignOutbound(m: unknown): AlignOutbound | undefined {
  if (!isObject(m)) return undefined;
  switch (m.type) {
    case 'ready':
      return { type: 'ready' };
    case 'compare':
      if (typeof m.version !== 'string' || !NAME.test(m.version)) return undefined;
      if (m.reward !== undefined && (typeof m.reward !== 'string' || !NAME.test(m.reward))) return undefined;
      return { type: 'compare', version: m.version, ...(m.reward !== undefined && { reward: m.reward as string }) };
    case 'resume':
      if (typeof m.version !== 'string' || !NAME.test(m.version)) return undefined;
      return { type: 'resume', version: m.version };
    case 'judged':
      if (typeof m.version !== 'string' || !NAME.test(m.version)) return undefined;
      if (!count(m.after) || !count(m.before) || !count(m.ties)) return undefined;
      return {
        type: 'judged',
        version: m.version,
        after: m.after as number,
        before: m.before as number,
        ties: m.ties as number,
      };
    default:
      return undefined;
  }
}
