import type { Tokenizer } from '../tokenizer';

const WORDISH = /[A-Za-z0-9_$]$/;
const MAX_HEAL_CHARS = 12;

/**
 * Token healing: a cursor in the middle of a word ("console.l|") ends the prompt with a token the model rarely saw
 * there ("l" where training had "log"). So the prompt stops before that last token, and generation must begin
 * with its text. Returns the text to back off (or '' when the prefix does not end inside a word).
 */
export function healingText(tok: Tokenizer, prefix: string): string {
  if (!WORDISH.test(prefix)) return '';
  const tail = prefix.slice(-64);
  const ids = tok.encode(tail);
  if (ids.length < 2) return '';
  const last = tok.decodeText([ids[ids.length - 1]]);
  // Only whole characters of a word-like tail, short enough to be a partly typed identifier.
  if (!last || last.length > MAX_HEAL_CHARS || !tail.endsWith(last) || !/^[\w$ .]+$/.test(last)) return '';
  return last;
}

/** Token ids whose text starts with `text` (the first token a healed prompt may generate). */
export function tokensStartingWith(tok: Tokenizer, text: string): Set<number> {
  const want = new TextEncoder().encode(text);
  const out = new Set<number>();
  for (let id = 0; id < tok.vocabSize; id++) {
    if (Object.values(tok.specials).includes(id)) continue;
    const b = tok.tokenBytes(id);
    if (b.length < want.length) continue;
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) ok = b[i] === want[i];
    if (ok) out.add(id);
  }
  return out;
}
