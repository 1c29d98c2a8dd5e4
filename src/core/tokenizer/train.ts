import { GptLabError } from '../errors';
import { byteKey, toBytes } from './bytes';
import { PairHeap } from './pair-heap';
import { forEachPretoken } from './pretokenize';
import { Tokenizer } from './tokenizer';
import { FIRST_MERGE_ID, MAX_VOCAB_SIZE, Merge, pairKey } from './vocab';

export interface TrainTokenizerOptions {
  /** The vocabulary to reach: 260 (bytes + specials) plus the number of merges to learn. */
  vocabSize: number;
  /** Stop early when no pair occurs at least this often (default 2). */
  minFrequency?: number;
  /** Called now and then, and once at the end, with the merges learned so far and the most possible. */
  onProgress?: (merges: number, total: number) => void;
}

/**
 * Learns byte-level BPE merges from `docs`. Works on distinct pre-tokens ("words") weighted by frequency,
 * keeps pair counts and a pair → words index up to date after each merge by touching only the words that
 * contain the merged pair, and picks the next pair from a lazily-invalidated max-heap. Ties go to the
 * lowest (left, right) ids, so the result depends only on the input.
 */
export function trainTokenizer(docs: Iterable<Uint8Array | string>, opts: TrainTokenizerOptions): Tokenizer {
  const { vocabSize, minFrequency = 2, onProgress } = opts;
  if (!Number.isInteger(vocabSize) || vocabSize < FIRST_MERGE_ID || vocabSize > MAX_VOCAB_SIZE) {
    throw new GptLabError(
      `vocabSize must be an integer from ${FIRST_MERGE_ID} (bytes + special tokens) to ${MAX_VOCAB_SIZE}, got ${vocabSize}`,
      'BAD_VOCAB',
    );
  }
  const total = vocabSize - FIRST_MERGE_ID;
  const { words, freqs } = countWords(docs);

  // Pair counts (weighted by word frequency) and, per pair, the words that contained it when it was indexed.
  // Index lists may hold stale words (the pair left them since); those are skipped when the pair is merged.
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  for (let w = 0; w < words.length; w++) {
    const sym = words[w];
    for (let k = 0; k + 1 < sym.length; k++) {
      const key = pairKey(sym[k], sym[k + 1]);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + freqs[w]);
      addToIndex(pairWords, key, w);
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, key);

  const merges: Merge[] = [];
  const lastSeen = new Int32Array(words.length).fill(-1); // merge number that last touched each word
  const deltas = new Map<number, number>();
  while (merges.length < total) {
    // Drop stale entries: an entry is current only if its count is the pair's count now.
    while (heap.size > 0 && pairCounts.get(heap.peekKey()) !== heap.peekCount()) heap.pop();
    if (heap.size === 0 || heap.peekCount() < minFrequency) break;
    const key = heap.peekKey();
    heap.pop();
    const a = Math.floor(key / MAX_VOCAB_SIZE);
    const b = key % MAX_VOCAB_SIZE;
    const id = FIRST_MERGE_ID + merges.length;
    merges.push([a, b]);

    deltas.clear();
    for (const w of pairWords.get(key) ?? []) {
      if (lastSeen[w] === merges.length) continue; // listed twice
      lastSeen[w] = merges.length;
      mergeWord(words[w], a, b, id, freqs[w], deltas, pairWords, w);
    }
    pairWords.delete(key);
    for (const [k, delta] of deltas) {
      if (delta === 0) continue;
      const count = (pairCounts.get(k) ?? 0) + delta;
      if (count > 0) {
        pairCounts.set(k, count);
        heap.push(count, k);
      } else pairCounts.delete(k);
    }
    if (onProgress && merges.length % 64 === 0) onProgress(merges.length, total);
  }
  onProgress?.(merges.length, total);
  return new Tokenizer(merges);
}

/** Distinct pre-tokens of at least two bytes, as byte-id arrays, with how often each occurs. */
function countWords(docs: Iterable<Uint8Array | string>): { words: number[][]; freqs: number[] } {
  const counts = new Map<string, number>();
  for (const doc of docs) {
    const bytes = toBytes(doc);
    forEachPretoken(bytes, (start, end) => {
      if (end - start < 2) return; // a single byte has no pair to merge
      const key = byteKey(bytes, start, end);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    });
  }
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [key, count] of counts) {
    const sym = new Array<number>(key.length);
    for (let i = 0; i < key.length; i++) sym[i] = key.charCodeAt(i);
    words.push(sym);
    freqs.push(count);
  }
  return { words, freqs };
}

/**
 * Replaces every (a, b) in `sym` (left to right, non-overlapping) by `id`, in place, and records the change
 * in pair counts as -freq for each old pair and +freq for each new one. Pairs that contain the new id are
 * indexed under this word.
 */
function mergeWord(
  sym: number[],
  a: number,
  b: number,
  id: number,
  freq: number,
  deltas: Map<number, number>,
  pairWords: Map<number, number[]>,
  w: number,
): void {
  let found = false;
  for (let k = 0; k + 1 < sym.length; k++) {
    if (sym[k] === a && sym[k + 1] === b) {
      found = true;
      break;
    }
  }
  if (!found) return; // a stale index entry
  for (let k = 0; k + 1 < sym.length; k++) addDelta(deltas, pairKey(sym[k], sym[k + 1]), -freq);
  let out = 0;
  for (let r = 0; r < sym.length;) {
    if (r + 1 < sym.length && sym[r] === a && sym[r + 1] === b) {
      sym[out++] = id;
      r += 2;
    } else sym[out++] = sym[r++];
  }
  sym.length = out;
  for (let k = 0; k + 1 < sym.length; k++) {
    const key = pairKey(sym[k], sym[k + 1]);
    addDelta(deltas, key, freq);
    if (sym[k] === id || sym[k + 1] === id) addToIndex(pairWords, key, w);
  }
}

function addDelta(deltas: Map<number, number>, key: number, delta: number): void {
  deltas.set(key, (deltas.get(key) ?? 0) + delta);
}

/** Lists word `w` under pair `key`, once per run of consecutive calls for the same word. */
function addToIndex(pairWords: Map<number, number[]>, key: number, w: number): void {
  const list = pairWords.get(key);
  if (list === undefined) pairWords.set(key, [w]);
  else if (list[list.length - 1] !== w) list.push(w);
}
