import { GptLabError } from '../errors';
import { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';

/** Token streams for training and validation: documents joined by end-of-text. */
export interface Dataset {
  train: Int32Array;
  val: Int32Array;
  /** Bytes of text behind each stream, for bits-per-byte. */
  trainBytes: number;
  valBytes: number;
}

/** Moves a cut point off UTF-8 continuation bytes, so FIM never splits a character. */
function charBoundary(doc: Uint8Array, i: number): number {
  while (i < doc.length && (doc[i] & 0xc0) === 0x80) i++;
  return i;
}

/**
 * Fill-in-the-middle in prefix-suffix-middle order (Bavarian et al., 2022): the document is cut at two random
 * points and the model learns to write the middle after seeing both sides — what a completion at a cursor needs.
 */
export function fimTokens(doc: Uint8Array, tok: Tokenizer, rng: Rng): number[] {
  let a = charBoundary(doc, rng.int(doc.length + 1));
  let b = charBoundary(doc, rng.int(doc.length + 1));
  if (a > b) [a, b] = [b, a];
  const s = tok.specials;
  return [
    s.fimPrefix,
    ...tok.encode(doc.subarray(0, a)),
    s.fimSuffix,
    ...tok.encode(doc.subarray(b)),
    s.fimMiddle,
    ...tok.encode(doc.subarray(a, b)),
  ];
}

function concat(parts: number[][]): Int32Array {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Context-level FIM: a document is cut into pieces of about `chunkTokens` tokens and each piece is rearranged on
 * its own, so a whole example — prefix, suffix and the middle that joins them — fits in one training window.
 * (Rearranging a whole file would put the prefix's end thousands of tokens before the middle it must continue.)
 */
export function fimChunks(doc: Uint8Array, tok: Tokenizer, rng: Rng, chunkTokens: number): number[] {
  const ids = tok.encode(doc);
  const out: number[] = [];
  let byte = 0;
  for (let i = 0; i < ids.length; i += chunkTokens) {
    let len = 0;
    for (const id of ids.slice(i, i + chunkTokens)) len += tok.tokenBytes(id).length;
    for (const t of fimTokens(doc.subarray(byte, byte + len), tok, rng)) out.push(t);
    byte += len;
  }
  return out;
}

/**
 * Tokenizes the split corpus; a share `fimRate` of training documents get the FIM transformation, in pieces of
 * `fimChunkTokens` (half the context leaves a random window a fair chance of holding a whole example).
 */
export function buildDataset(
  tok: Tokenizer,
  trainDocs: Uint8Array[],
  valDocs: Uint8Array[],
  opts: { fimRate: number; seed: number; fimChunkTokens?: number },
): Dataset {
  const rng = new Rng(opts.seed ^ 0x5f1a);
  const eot = tok.specials.endOfText;
  const chunk = Math.max(8, opts.fimChunkTokens ?? 64);
  const train = trainDocs.map((d) => {
    const ids = rng.next() < opts.fimRate && d.length > 1 ? fimChunks(d, tok, rng, chunk) : tok.encode(d);
    ids.push(eot);
    return ids;
  });
  const val = valDocs.map((d) => [...tok.encode(d), eot]);
  const bytes = (docs: Uint8Array[]) => docs.reduce((n, d) => n + d.length, 0);
  return { train: concat(train), val: concat(val), trainBytes: bytes(trainDocs), valBytes: bytes(valDocs) };
}

export interface Batch {
  /** Inputs [B·T] and next-token targets [B·T], row-major. */
  x: Int32Array;
  y: Int32Array;
  B: number;
  T: number;
  /** The seed of this step's dropout masks (drawn only when the run trains with dropout). */
  dropoutSeed?: number;
  /** Row of the step's whole batch this one's first row is (a data-parallel replica's shard); default 0. */
  firstRow?: number;
}

/** Random windows of the training stream, drawn with a seeded generator (saved in checkpoints). */
export function sampleBatch(tokens: Int32Array, B: number, T: number, rng: Rng): Batch {
  if (tokens.length < T + 1) {
    throw new GptLabError(
      `The corpus is too small: ${tokens.length} training tokens, but one sequence needs ${T + 1}. Add files or use a smaller context.`,
      'CORPUS_TOO_SMALL',
    );
  }
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = rng.int(tokens.length - T);
    x.set(tokens.subarray(start, start + T), b * T);
    y.set(tokens.subarray(start + 1, start + T + 1), b * T);
  }
  return { x, y, B, T };
}

/**
 * Fixed validation batches: evenly spaced windows over the validation stream (the same every evaluation, so
 * curves compare). A stream shorter than the context gives one shorter window.
 */
export function validationBatches(tokens: Int32Array, B: number, T: number, maxBatches: number): Batch[] {
  if (tokens.length < 2) return [];
  const t = Math.min(T, tokens.length - 1);
  const windows = Math.max(1, Math.min(maxBatches * B, Math.floor((tokens.length - 1) / t)));
  const stride = Math.max(1, Math.floor((tokens.length - 1 - t) / Math.max(1, windows - 1)));
  const starts: number[] = [];
  for (let i = 0; i < windows; i++) starts.push(Math.min(i * stride, tokens.length - 1 - t));
  const batches: Batch[] = [];
  for (let i = 0; i < starts.length; i += B) {
    const rows = starts.slice(i, i + B);
    const x = new Int32Array(rows.length * t);
    const y = new Int32Array(rows.length * t);
    rows.forEach((s, r) => {
      x.set(tokens.subarray(s, s + t), r * t);
      y.set(tokens.subarray(s + 1, s + t + 1), r * t);
    });
    batches.push({ x, y, B: rows.length, T: t });
  }
  return batches;
}
