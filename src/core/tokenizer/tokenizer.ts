import { GptLabError } from '../errors';
import { byteKey, displayBytes, toBytes } from './bytes';
import { forEachGpt2Pretoken } from './gpt2Pretokenize';
import { forEachPretoken } from './pretokenize';
import {
  BYTE_TOKENS,
  FIRST_MERGE_ID,
  MAX_VOCAB_SIZE,
  Merge,
  pairKey,
  SPECIAL_IDS,
  SPECIAL_TOKENS,
  SpecialTokenIds,
} from './vocab';

/** The on-disk form of a tokenizer (`tokenizer.json`). */
export interface TokenizerJSON {
  format: 'gpt-lab-bpe';
  version: 1;
  /**
   * Names the pre-tokenization rules; a change to them must change this name. 'code-v1' is GPT Lab's own (made
   * for code); 'gpt2' is GPT-2's regular expression, for tokenizers imported from a GPT-2 checkpoint.
   */
  pretokenizer: PretokenizerName;
  /** 260 + merges.length. */
  vocabSize: number;
  /** The literal text of ids 256.. . */
  specials: string[];
  /** In rank order: merge i creates id 260 + i. */
  merges: [number, number][];
}

const FORMAT = 'gpt-lab-bpe';
const VERSION = 1;
/** The pre-tokenization rules a tokenizer can use (see TokenizerJSON.pretokenizer). */
export type PretokenizerName = 'code-v1' | 'gpt2';
const PRETOKENIZERS: readonly PretokenizerName[] = ['code-v1', 'gpt2'];
/** Encode memoizes pre-tokens; the cache is dropped when it grows past this many entries. */
const CACHE_LIMIT = 200_000;

const textEncoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text, so decodeText(encode(s)) === s holds for it too.
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

function bad(message: string): GptLabError {
  return new GptLabError(`Invalid tokenizer: ${message}`, 'BAD_TOKENIZER');
}

/** A byte-level BPE tokenizer: ids 0..255 are bytes, 256..259 special tokens, 260.. merges by rank. */
export class Tokenizer {
  readonly vocabSize: number;
  readonly specials: SpecialTokenIds = SPECIAL_IDS;
  private readonly mergeList: Merge[];
  /** pairKey(left, right) → the id the pair merges into (a lower id is a higher-priority merge). */
  private readonly ranks = new Map<number, number>();
  /** The bytes each id decodes to. */
  private readonly table: Uint8Array[] = [];
  private readonly cache = new Map<string, number[]>();
  /** How text is cut before merges apply ('code-v1' unless the tokenizer came from GPT-2). */
  readonly pretokenizer: PretokenizerName;
  private readonly forEachPretoken: (bytes: Uint8Array, emit: (start: number, end: number) => void) => void;

  /** Builds a tokenizer from merges in rank order; throws BAD_TOKENIZER if they are inconsistent. */
  constructor(merges: ReadonlyArray<Merge>, opts: { pretokenizer?: PretokenizerName } = {}) {
    this.pretokenizer = opts.pretokenizer ?? 'code-v1';
    if (!PRETOKENIZERS.includes(this.pretokenizer)) throw bad(`pretokenizer ${String(this.pretokenizer)} is unknown`);
    this.forEachPretoken = this.pretokenizer === 'gpt2' ? forEachGpt2Pretoken : forEachPretoken;
    this.vocabSize = FIRST_MERGE_ID + merges.length;
    if (this.vocabSize > MAX_VOCAB_SIZE) throw bad(`${merges.length} merges exceed the vocabulary limit`);
    for (let b = 0; b < BYTE_TOKENS; b++) this.table.push(Uint8Array.of(b));
    for (const s of SPECIAL_TOKENS) this.table.push(textEncoder.encode(s));
    this.mergeList = merges.map(([a, b], i) => {
      const id = FIRST_MERGE_ID + i;
      for (const x of [a, b]) {
        const isMergeable = Number.isInteger(x) && x >= 0 && x < id && (x < BYTE_TOKENS || x >= FIRST_MERGE_ID);
        if (!isMergeable) throw bad(`merge ${i} uses id ${x}, which is not a byte or an earlier merge`);
      }
      const key = pairKey(a, b);
      const earlier = this.ranks.get(key);
      if (earlier !== undefined) throw bad(`merge ${i} repeats merge ${earlier - FIRST_MERGE_ID} (${a}, ${b})`);
      this.ranks.set(key, id);
      const left = this.table[a];
      const bytes = new Uint8Array(left.length + this.table[b].length);
      bytes.set(left);
      bytes.set(this.table[b], left.length);
      this.table.push(bytes);
      return [a, b] as const;
    });
  }

  /** The merges in rank order: merge i creates id 260 + i. */
  get merges(): ReadonlyArray<Merge> {
    return this.mergeList;
  }

  /** Token ids of `input` (strings as UTF-8). Never yields special ids: "<|endoftext|>" in text is bytes. */
  encode(input: string | Uint8Array): number[] {
    const bytes = toBytes(input);
    const out: number[] = [];
    this.forEachPretoken(bytes, (start, end) => {
      if (end - start === 1) {
        out.push(bytes[start]);
        return;
      }
      const key = byteKey(bytes, start, end);
      let ids = this.cache.get(key);
      if (ids === undefined) {
        ids = this.applyMerges(bytes, start, end);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(key, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    });
    return out;
  }

  /** The bytes of `ids` concatenated; special ids give their literal text. */
  decode(ids: ArrayLike<number>): Uint8Array {
    let length = 0;
    for (let i = 0; i < ids.length; i++) length += this.bytesOf(ids[i]).length;
    const out = new Uint8Array(length);
    let offset = 0;
    for (let i = 0; i < ids.length; i++) {
      const bytes = this.table[ids[i]];
      out.set(bytes, offset);
      offset += bytes.length;
    }
    return out;
  }

  /** `decode` as UTF-8 text; invalid bytes become U+FFFD. */
  decodeText(ids: ArrayLike<number>): string {
    return textDecoder.decode(this.decode(ids));
  }

  /** A copy of the bytes of one token. */
  tokenBytes(id: number): Uint8Array {
    return this.bytesOf(id).slice();
  }

  /** One token for people: whitespace made visible ('·', '→', '↵'), invalid bytes as '\xNN'. */
  tokenDisplay(id: number): string {
    const bytes = this.bytesOf(id);
    return id >= BYTE_TOKENS && id < FIRST_MERGE_ID ? SPECIAL_TOKENS[id - BYTE_TOKENS] : displayBytes(bytes);
  }

  toJSON(): TokenizerJSON {
    return {
      format: FORMAT,
      version: VERSION,
      pretokenizer: this.pretokenizer,
      vocabSize: this.vocabSize,
      specials: [...SPECIAL_TOKENS],
      merges: this.mergeList.map(([a, b]) => [a, b]),
    };
  }

  /** Validates a parsed `tokenizer.json`; throws GptLabError 'BAD_TOKENIZER' naming the problem. */
  static fromJSON(json: unknown): Tokenizer {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('expected a JSON object');
    const o = json as Record<string, unknown>;
    if (o.format !== FORMAT) throw bad(`format is ${JSON.stringify(o.format)}, expected "${FORMAT}"`);
    if (o.version !== VERSION) throw bad(`version ${JSON.stringify(o.version)} is not supported (expected ${VERSION})`);
    if (!PRETOKENIZERS.includes(o.pretokenizer as PretokenizerName)) {
      const known = PRETOKENIZERS.map((p) => `"${p}"`).join(' or ');
      throw bad(`pretokenizer ${JSON.stringify(o.pretokenizer)} is unknown (expected ${known})`);
    }
    const specials = o.specials;
    const specialsOk =
      Array.isArray(specials) &&
      specials.length === SPECIAL_TOKENS.length &&
      specials.every((s, i) => s === SPECIAL_TOKENS[i]);
    if (!specialsOk) throw bad(`specials must be ${JSON.stringify(SPECIAL_TOKENS)}`);
    const merges = o.merges;
    if (!Array.isArray(merges)) throw bad('merges must be an array');
    merges.forEach((m: unknown, i) => {
      if (!Array.isArray(m) || m.length !== 2 || !m.every((x) => Number.isInteger(x))) {
        throw bad(`merge ${i} must be a pair of integer ids, got ${JSON.stringify(m)}`);
      }
    });
    if (o.vocabSize !== FIRST_MERGE_ID + merges.length) {
      const expected = FIRST_MERGE_ID + merges.length;
      throw bad(`vocabSize is ${JSON.stringify(o.vocabSize)} but ${merges.length} merges make ${expected}`);
    }
    return new Tokenizer(merges as [number, number][], { pretokenizer: o.pretokenizer as PretokenizerName });
  }

  private bytesOf(id: number): Uint8Array {
    const bytes = Number.isInteger(id) ? this.table[id] : undefined;
    if (bytes === undefined) {
      throw new GptLabError(`Token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`, 'BAD_TOKEN_ID');
    }
    return bytes;
  }

  /** BPE on one pre-token: repeatedly merge every occurrence of the best-ranked adjacent pair. */
  private applyMerges(bytes: Uint8Array, start: number, end: number): number[] {
    const sym: number[] = [];
    for (let i = start; i < end; i++) sym.push(bytes[i]);
    const ranks = this.ranks;
    for (;;) {
      let best = MAX_VOCAB_SIZE;
      for (let k = 0; k + 1 < sym.length; k++) {
        const id = ranks.get(pairKey(sym[k], sym[k + 1]));
        if (id !== undefined && id < best) best = id;
      }
      if (best === MAX_VOCAB_SIZE) return sym;
      const [a, b] = this.mergeList[best - FIRST_MERGE_ID];
      let w = 0;
      for (let r = 0; r < sym.length;) {
        if (r + 1 < sym.length && sym[r] === a && sym[r + 1] === b) {
          sym[w++] = best;
          r += 2;
        } else sym[w++] = sym[r++];
      }
      sym.length = w;
    }
  }
}
