import { GptLabError } from '../errors';
import type { Tokenizer } from '../tokenizer';

export interface FimPromptOptions {
  /** The model's context length: prompt plus new tokens must fit in it. */
  contextLength: number;
  /** Tokens reserved for the completion. */
  maxNewTokens: number;
  /** Fill-in-the-middle prompt (prefix and suffix); false gives the prefix alone. */
  fim: boolean;
  /** Share of the prompt budget for the prefix (default 0.75); each side also gets what the other leaves. */
  prefixShare?: number;
}

export interface FimPrompt {
  ids: number[];
  /** Tokens of the prefix (and of the suffix) that made it into the prompt. */
  prefixTokens: number;
  suffixTokens: number;
}

/**
 * The prompt for a completion at a cursor, in the PSM order training used (see train/data.ts fimTokens):
 * `[fimPrefix] prefix [fimSuffix] suffix [fimMiddle]`. The prefix is cut from the left and the suffix from the
 * right, at token level, so the prompt plus `maxNewTokens` fits in the context.
 */
export function fimPrompt(tok: Tokenizer, prefix: string, suffix: string, opts: FimPromptOptions): FimPrompt {
  const specials = opts.fim ? 3 : 0;
  const budget = opts.contextLength - opts.maxNewTokens - specials;
  if (budget < 0) {
    throw new GptLabError(
      `A context of ${opts.contextLength} tokens leaves no room for a prompt and ${opts.maxNewTokens} new tokens; ` +
        'ask for fewer new tokens.',
      'NO_ROOM_FOR_PROMPT',
    );
  }
  const s = tok.specials;
  if (!opts.fim) {
    const pre = encodeTail(tok, prefix, budget);
    return { ids: pre, prefixTokens: pre.length, suffixTokens: 0 };
  }
  const share = Math.min(1, Math.max(0, opts.prefixShare ?? 0.75));
  const preQuota = Math.floor(budget * share);
  const pre = encodeTail(tok, prefix, budget);
  const suf = encodeHead(tok, suffix, budget);
  // The suffix takes its quota, or more when the prefix is short; the prefix takes all that is left.
  const sufN = Math.min(suf.length, Math.max(budget - preQuota, budget - pre.length));
  const preN = Math.min(pre.length, budget - sufN);
  const ids = [s.fimPrefix, ...pre.slice(pre.length - preN), s.fimSuffix, ...suf.slice(0, sufN), s.fimMiddle];
  return { ids, prefixTokens: preN, suffixTokens: sufN };
}

/**
 * Text cut at a window edge only tokenizes differently in the pre-token at that edge (a token is at most 64
 * bytes), so with this many spare tokens the kept ones match the full encoding — barring one over-long run.
 */
const SPARE_TOKENS = 64;

/** The last `n` tokens (or fewer) of `text`, encoding only a tail window so a huge file stays cheap. */
function encodeTail(tok: Tokenizer, text: string, n: number): number[] {
  if (n <= 0) return [];
  for (let chars = (n + SPARE_TOKENS) * 8; ; chars *= 4) {
    if (chars >= text.length) return tok.encode(text).slice(-n);
    let start = text.length - chars;
    if (isLowSurrogate(text.charCodeAt(start))) start--; // never split a surrogate pair
    const ids = tok.encode(text.slice(start));
    if (ids.length >= n + SPARE_TOKENS) return ids.slice(-n);
  }
}

/** The first `n` tokens (or fewer) of `text`, encoding only a head window. */
function encodeHead(tok: Tokenizer, text: string, n: number): number[] {
  if (n <= 0) return [];
  for (let chars = (n + SPARE_TOKENS) * 8; ; chars *= 4) {
    if (chars >= text.length) return tok.encode(text).slice(0, n);
    let end = chars;
    if (isLowSurrogate(text.charCodeAt(end))) end++;
    const ids = tok.encode(text.slice(0, end));
    if (ids.length >= n + SPARE_TOKENS) return ids.slice(0, n);
  }
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
