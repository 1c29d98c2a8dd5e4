/**
 * GPT-2's tokenizer files (`vocab.json` + `merges.txt`, or a Hugging Face `tokenizer.json` holding the same
 * BPE model) onto GPT Lab's vocabulary layout, and back.
 *
 * GPT-2 writes every byte as a printable character (`bytes_to_unicode` in openai/gpt-2 encoder.py: 'Ġ' is a
 * space) and numbers its tokens its own way: the 256 bytes in that character order, merges by rank, then
 * `<|endoftext|>`. GPT Lab's ids are the bytes in byte order (0–255), its four specials (256–259), then merges
 * by rank. Importing therefore builds the same merges over GPT Lab's ids and a map from each GPT Lab id to
 * GPT-2's id, so the embedding rows can be permuted to match (the FIM specials, which GPT-2 lacks, map to -1).
 */
import { FIRST_MERGE_ID, Merge, SPECIAL_TOKENS, Tokenizer } from '../tokenizer';

const BYTE_TOKENS = 256;
import { badImport } from './errors';

/** GPT-2's byte → character table (encoder.py `bytes_to_unicode`). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i])));
  return table;
}

const BYTE_CHARS = bytesToUnicode();

/** A token's bytes in GPT-2's character spelling. */
export function gpt2Spelling(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_CHARS[b];
  return s;
}

export interface Gpt2Vocabulary {
  /** Token string → GPT-2 id. */
  vocab: Map<string, number>;
  /** In rank order: the two token strings each merge joins. */
  merges: [string, string][];
}

/** Parses `vocab.json` and `merges.txt` (a `#version` first line and blank lines are skipped). */
export function parseGpt2Files(vocabJson: string, mergesTxt: string): Gpt2Vocabulary {
  let raw: unknown;
  try {
    raw = JSON.parse(vocabJson);
  } catch (e) {
    throw badImport(`vocab.json is not valid JSON (${(e as Error).message}).`);
  }
  const merges: [string, string][] = [];
  mergesTxt.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw badImport(`merges.txt line ${i + 1} is not two tokens separated by one space: ${JSON.stringify(line)}.`);
    }
    merges.push([parts[0], parts[1]]);
  });
  return { vocab: vocabMap(raw, 'vocab.json'), merges };
}

/** The BPE model of a Hugging Face `tokenizer.json` (model.type "BPE", byte-level), or undefined for another kind. */
export function parseHfTokenizerJson(json: unknown): Gpt2Vocabulary | undefined {
  const model = (json as { model?: { type?: unknown; vocab?: unknown; merges?: unknown } } | null)?.model;
  if (!model || model.type !== 'BPE') return undefined;
  if (!Array.isArray(model.merges)) throw badImport('tokenizer.json: model.merges is not a list.');
  const merges = model.merges.map((m: unknown, i): [string, string] => {
    const parts = typeof m === 'string' ? m.split(' ') : Array.isArray(m) ? m : [];
    if (parts.length !== 2 || !parts.every((p) => typeof p === 'string' && p)) {
      throw badImport(`tokenizer.json: merge ${i} is not a pair of tokens: ${JSON.stringify(m)}.`);
    }
    return [parts[0], parts[1]];
  });
  const vocab = vocabMap(model.vocab, 'tokenizer.json model.vocab');
  for (const added of (json as { added_tokens?: { content?: unknown; id?: unknown }[] }).added_tokens ?? []) {
    if (typeof added?.content === 'string' && Number.isInteger(added.id)) vocab.set(added.content, added.id as number);
  }
  return { vocab, merges };
}

function vocabMap(raw: unknown, what: string): Map<string, number> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badImport(`${what} is not a JSON object.`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(raw)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) {
      throw badImport(`${what}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not an integer ≥ 0.`);
    }
    vocab.set(token, id as number);
  }
  return vocab;
}

export interface MappedTokenizer {
  /** GPT-2's merges over GPT Lab's ids, with GPT-2's pre-tokenizer. */
  tokenizer: Tokenizer;
  /** GPT Lab id → GPT-2 id (-1: a token GPT-2 has no row for, the FIM specials). */
  toGpt2: Int32Array;
  /** GPT-2 tokens that have no place in GPT Lab's layout (added tokens other than <|endoftext|>). */
  dropped: string[];
}

/** GPT Lab's tokenizer for a GPT-2 vocabulary, and where each of its ids sits in GPT-2's numbering. */
export function mapGpt2Vocabulary(v: Gpt2Vocabulary): MappedTokenizer {
  const byteOf = new Map<string, number>();
  BYTE_CHARS.forEach((ch, b) => byteOf.set(ch, b));
  const ours = new Map<string, number>(byteOf); // token string → GPT Lab id
  const merges: Merge[] = [];
  v.merges.forEach(([a, b], i) => {
    const left = ours.get(a);
    const right = ours.get(b);
    for (const [part, id] of [
      [a, left],
      [b, right],
    ] as const) {
      if (id === undefined) {
        throw badImport(
          `merges.txt merge ${i + 1} (${a} ${b}): '${part}' is neither a byte nor made by an earlier merge.`,
        );
      }
    }
    const joined = a + b;
    if (ours.has(joined)) {
      throw badImport(`merges.txt merge ${i + 1} (${a} ${b}) makes '${joined}' again, which an earlier merge made.`);
    }
    ours.set(joined, FIRST_MERGE_ID + i);
    merges.push([left!, right!]);
  });
  const tokenizer = new Tokenizer(merges, { pretokenizer: 'gpt2' });
  const toGpt2 = new Int32Array(tokenizer.vocabSize).fill(-1);
  const gpt2Id = (token: string, what: string) => {
    const id = v.vocab.get(token);
    if (id === undefined) throw badImport(`vocab.json has no id for ${what} '${token}'.`);
    return id;
  };
  for (const [ch, b] of byteOf) toGpt2[b] = gpt2Id(ch, `byte ${b}`);
  v.merges.forEach(([a, b], i) => (toGpt2[FIRST_MERGE_ID + i] = gpt2Id(a + b, `merge ${i + 1}'s token`)));
  // <|endoftext|> always; the FIM specials when the vocabulary has them (GPT Lab's own, written as GPT-2 files).
  SPECIAL_TOKENS.forEach((literal, i) => {
    const id = v.vocab.get(literal);
    if (id !== undefined) toGpt2[BYTE_TOKENS + i] = id;
  });
  const known = new Set(toGpt2);
  const dropped = [...v.vocab].filter(([, id]) => !known.has(id)).map(([token]) => token);
  return { tokenizer, toGpt2, dropped };
}

/**
 * GPT Lab's tokenizer as GPT-2 files, with GPT Lab's ids (bytes 0–255, specials 256–259, merges from 260): the
 * same vocabulary for tools that read GPT-2's format. Undefined when two merges make the same bytes (GPT-2's
 * format names a token by its spelling, so it cannot hold both).
 */
export function gpt2FilesOf(tok: Tokenizer): { vocabJson: string; mergesTxt: string } | undefined {
  const vocab: Record<string, number> = {};
  const spelling: string[] = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    const special = id >= 256 && id < FIRST_MERGE_ID;
    const s = special ? tok.tokenDisplay(id) : gpt2Spelling(tok.tokenBytes(id));
    if (Object.prototype.hasOwnProperty.call(vocab, s)) return undefined;
    vocab[s] = id;
    spelling.push(s);
  }
  const lines = ['#version: 0.2', ...tok.merges.map(([a, b]) => `${spelling[a]} ${spelling[b]}`)];
  return { vocabJson: JSON.stringify(vocab), mergesTxt: lines.join('\n') + '\n' };
}
