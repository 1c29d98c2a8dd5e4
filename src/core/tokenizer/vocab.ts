/** The fixed layout of the vocabulary: bytes, then special tokens, then merges. */

/** Ids 0..255 are the raw bytes. */
export const BYTE_TOKENS = 256;

/** Special tokens, ids 256.. in this order. Text never encodes to them; they decode to these literals. */
export const SPECIAL_TOKENS = ['<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>'] as const;

/** The id of the first merge, and the smallest allowed vocabulary. */
export const FIRST_MERGE_ID = BYTE_TOKENS + SPECIAL_TOKENS.length;

/** Ids must stay below this, so that a pair of ids packs exactly into one number key (2^40 < 2^53). */
export const MAX_VOCAB_SIZE = 1 << 20;

export interface SpecialTokenIds {
  /** `<|endoftext|>`: separates documents. */
  readonly endOfText: number;
  /** `<|fim_prefix|>`, `<|fim_middle|>`, `<|fim_suffix|>`: fill-in-the-middle training and prompts. */
  readonly fimPrefix: number;
  readonly fimMiddle: number;
  readonly fimSuffix: number;
}

export const SPECIAL_IDS: SpecialTokenIds = Object.freeze({
  endOfText: BYTE_TOKENS,
  fimPrefix: BYTE_TOKENS + 1,
  fimMiddle: BYTE_TOKENS + 2,
  fimSuffix: BYTE_TOKENS + 3,
});

/** One number for the ordered pair (a, b); ordering keys orders pairs by a, then b. */
export function pairKey(a: number, b: number): number {
  return a * MAX_VOCAB_SIZE + b;
}

/** A merge: the ids of the left and right tokens that, adjacent, become one new token. */
export type Merge = readonly [left: number, right: number];
