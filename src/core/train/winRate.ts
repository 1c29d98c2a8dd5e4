import type { GPT } from '../model/gpt';
import { generateBatchAsync } from '../sample/batch';
import type { Tokenizer } from '../tokenizer';
import { rewardModelScorer } from './ppoTask';

export interface WinRow {
  prompt: string;
  before: string;
  after: string;
  beforeScore: number;
  afterScore: number;
}

export interface WinRate {
  rows: WinRow[];
  /** Share of prompts where the aligned version's completion scores higher (ties count half). */
  winRate: number;
  meanBefore: number;
  meanAfter: number;
}

/**
 * The parent's and the aligned version's completions of the same prompts side by side, each scored by the
 * reward model: did alignment move the model toward what the reward prefers?
 */
export async function winRateByReward(
  before: GPT,
  after: GPT,
  rm: GPT,
  tok: Tokenizer,
  prompts: string[],
  opts: { maxNewTokens?: number; temperature?: number; seed?: number } = {},
): Promise<WinRate> {
  const maxTokens = opts.maxNewTokens ?? 24;
  const ctx = Math.min(before.config.contextLength, after.config.contextLength, rm.config.contextLength);
  const ids = prompts.map((p) => tok.encode(p).slice(-Math.max(1, ctx - maxTokens - 1)));
  const s = tok.specials;
  const gen = (m: GPT) =>
    generateBatchAsync(m, tok, ids, {
      maxTokens,
      temperature: opts.temperature ?? 0,
      seed: opts.seed ?? 0,
      suppressTokens: [s.fimPrefix, s.fimSuffix, s.fimMiddle],
    });
  const [a, b] = [await gen(before), await gen(after)];
  const score = rewardModelScorer(rm, tok);
  const sa = await score(ids.map((p, i) => ({ prompt: p, response: a[i].tokens })));
  const sb = await score(ids.map((p, i) => ({ prompt: p, response: b[i].tokens })));
  const rows = prompts.map((prompt, i) => ({
    prompt,
    before: a[i].text,
    after: b[i].text,
    beforeScore: sa[i],
    afterScore: sb[i],
  }));
  const wins = rows.reduce(
    (n, r) => n + (r.afterScore > r.beforeScore ? 1 : r.afterScore === r.beforeScore ? 0.5 : 0),
    0,
  );
  const mean = (v: number[]) => (v.length ? v.reduce((x, y) => x + y, 0) / v.length : NaN);
  return { rows, winRate: rows.length ? wins / rows.length : NaN, meanBefore: mean(sa), meanAfter: mean(sb) };
}
