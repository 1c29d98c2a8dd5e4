/**
 * GPT-2's pre-tokenizer (openai/gpt-2 `encoder.py`), for tokenizers imported from a GPT-2 checkpoint:
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * GPT-2 runs it on text; GPT Lab encodes bytes, so the bytes are decoded (a byte that is not valid UTF-8 stands
 * alone, as a symbol) and each match is mapped back to its byte range. `\s` is Unicode's White_Space (what
 * Python's `regex` module and Hugging Face's tokenizers match), spelt out because JavaScript's `\s` differs
 * (it adds U+FEFF and leaves out U+0085).
 */
import { utf8SequenceLength } from './bytes';

const WS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const GPT2_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  'gu',
);
/** Stands in for a byte that is not valid UTF-8: a private-use character, so a symbol to the pattern. */
const INVALID_BYTE = '\ue000';

/** Calls `emit(start, end)` for each GPT-2 pre-token of `bytes`, in order; together they tile `bytes`. */
export function forEachGpt2Pretoken(bytes: Uint8Array, emit: (start: number, end: number) => void): void {
  // text[k] (a UTF-16 unit) starts at byte offsets[k]; offsets[text.length] === bytes.length.
  let text = '';
  const offsets: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const len = utf8SequenceLength(bytes, i);
    if (len === 0) {
      text += INVALID_BYTE;
      offsets.push(i);
      i += 1;
      continue;
    }
    let cp = len === 1 ? bytes[i] : bytes[i] & (0xff >> (len + 1));
    for (let k = 1; k < len; k++) cp = (cp << 6) | (bytes[i + k] & 0x3f);
    const ch = String.fromCodePoint(cp);
    text += ch;
    for (let u = 0; u < ch.length; u++) offsets.push(i);
    i += len;
  }
  offsets.push(bytes.length);
  // The pattern matches every character, so the matches tile the text; a gap would still be emitted whole.
  let last = 0;
  for (const m of text.matchAll(GPT2_PATTERN)) {
    const start = offsets[m.index];
    const end = offsets[m.index + m[0].length];
    if (start > last) emit(last, start);
    if (end > start) emit(start, end);
    last = end;
  }
  if (last < bytes.length) emit(last, bytes.length);
}
