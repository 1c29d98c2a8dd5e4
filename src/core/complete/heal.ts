import type { Tokenizer } from '../tokenizer';

const WORDISH = /[A-Za-z0-9_$]$/;
/** Spaces after text on the same line ("const |", "a + |"). */
const BLANKS_AFTER_TEXT = /\S[ \t]+$/;
const MAX_HEAL_CHARS = 12;

/**
 * Token healing: a cursor in the middle of a word ("console.l|") ends the prompt with a token the model rarely saw
 * there ("l" where training had "log"). So the prompt stops before that last token, and generation must begin
 * with its text. Returns the text to back off (or '' when the prefix does not end inside a word).
 *
 * A cursor after a space ("const |") is the same case, and the commonest one: the pre-tokenizer attaches a space
 * to the word after it (" name"), so a prompt ending in a bare " " token ends where training text never does —
 * a small model's prediction there is close to uniform, and its greedy pick often a line break (an empty
 * suggestion). Backing off the space lets the model choose among " name", " {", … as it learned to.
 */
export function healingText(tok: Tokenizer, prefix: string): string {
  if (!WORDISH.test(prefix) && !BLANKS_AFTER_TEXT.test(prefix)) return '';
  const tail = prefix.slice(-64);
  const ids = tok.encode(tail);
  if (ids.length < 2) return '';
  const last = tok.decodeText([ids[ids.length - 1]]);
  // Only whole characters of a word-like tail, short enough to be a partly typed identifier.
  if (!last || last.length > MAX_HEAL_CHARS || !tail.endsWith(last) || !/^[\w$ .]+$/.test(last)) return '';
  return last;
}

const isBlankByte = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/**
 * Token ids whose text starts with `text` (the first token a healed prompt may generate). When `text` is only
 * spaces, the token must also go on with something visible (" name", not "  " or " \n"): more blanks or a line
 * break after "const " would make a suggestion of nothing.
 */
export function tokensStartingWith(tok: Tokenizer, text: string): Set<number> {
  const want = new TextEncoder().encode(text);
  const blank = want.length > 0 && want.every(isBlankByte);
  const out = new Set<number>();
  for (let id = 0; id < tok.vocabSize; id++) {
    if (Object.values(tok.specials).includes(id)) continue;
    const b = tok.tokenBytes(id);
    if (b.length < want.length || (blank && (b.length === want.length || isBlankByte(b[want.length])))) continue;
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) ok = b[i] === want[i];
    if (ok) out.add(id);
  }
  return out;
}
