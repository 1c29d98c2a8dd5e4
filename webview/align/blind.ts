/**
 * Blind A/B judging, without the DOM: a few prompts, each showing the parent's and the aligned version's
 * completion as A and B in an order the user cannot see; their picks give a human win rate.
 */
import type { CompareRow } from '../../src/protocol/rank';

export interface BlindItem {
  prompt: string;
  a: string;
  b: string;
  /** True when A is the aligned version's completion. */
  aIsAfter: boolean;
}

export type Pick = 'a' | 'b' | 'tie';

/** Up to `n` rows whose two completions differ, each in a coin-flip order (`random` in [0, 1)). */
export function blindItems(rows: CompareRow[], n: number, random: () => number): BlindItem[] {
  return rows
    .filter((r) => r.before.trim() !== r.after.trim())
    .slice(0, n)
    .map((r) => {
      const aIsAfter = random() < 0.5;
      return { prompt: r.prompt, a: aIsAfter ? r.after : r.before, b: aIsAfter ? r.before : r.after, aIsAfter };
    });
}

/** Picks → wins of the aligned version, of the parent, ties, and the human win rate (ties half). */
export function tally(
  items: BlindItem[],
  picks: Pick[],
): { after: number; before: number; ties: number; winRate: number } {
  let after = 0;
  let before = 0;
  let ties = 0;
  picks.forEach((p, i) => {
    if (p === 'tie') ties++;
    else if ((p === 'a') === items[i].aIsAfter) after++;
    else before++;
  });
  const n = after + before + ties;
  return { after, before, ties, winRate: n ? (after + ties / 2) / n : NaN };
}
