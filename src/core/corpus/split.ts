/**
 * Train/validation split by file, decided per path by a seeded hash: the same files land on
 * the same side on every run and machine, and adding a file doesn't move any other file.
 */
import { GptLabError } from '../errors';

export interface FileSplit<T> {
  train: T[];
  val: T[];
}

/**
 * Puts each file in `val` when its hash, as a fraction in [0, 1), is below `valFraction`.
 * With two or more files and valFraction > 0, at least one lands in each side: if the hash put
 * none in val, the lowest-hashing file moves there (and the highest-hashing one stays in train).
 * Only that fallback can move a file when another is added. Input order is kept on each side.
 */
export function splitByFile<T extends { path: string }>(
  files: readonly T[],
  valFraction: number,
  seed: number,
): FileSplit<T> {
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new GptLabError(`The validation fraction must be at least 0 and below 1, not ${valFraction}.`, 'BAD_OPTION');
  }
  const scores = files.map((f) => pathScore(f.path, seed));
  const inVal = scores.map((s) => s < valFraction);
  if (files.length >= 2 && valFraction > 0) {
    if (!inVal.includes(true)) inVal[indexOfExtreme(scores, (a, b) => a < b)] = true;
    if (!inVal.includes(false)) inVal[indexOfExtreme(scores, (a, b) => a > b)] = false;
  }
  return {
    train: files.filter((_, i) => !inVal[i]),
    val: files.filter((_, i) => inVal[i]),
  };
}

/** A path's place in [0, 1) for a seed. NFC so macOS (NFD names) and Linux agree. */
export function pathScore(relPath: string, seed: number): number {
  return fnv1a32(`${seed >>> 0}\u0000${relPath.normalize('NFC')}`) / 2 ** 32;
}

/** FNV-1a over the UTF-8 bytes, then murmur3's finalizer so the high bits (which the score
 *  reads) depend on every input byte, including the last. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function indexOfExtreme(values: readonly number[], better: (a: number, b: number) => boolean): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (better(values[i], values[best])) best = i;
  return best;
}
