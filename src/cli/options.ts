import { GptLabError } from '../core/errors';

/** Option parsers: a bad value is a BAD_OPTION error naming the flag, before anything is allocated or written. */

function bad(flag: string, what: string, v: string): GptLabError {
  return new GptLabError(`${flag} must be ${what} (got '${v}').`, 'BAD_OPTION');
}

/** A finite number; undefined when the option was not given. */
export function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n)) throw bad(flag, 'a number', v);
  return n;
}

/** A whole number ≥ `min` (1 unless said) and ≤ `max`. */
export function int(v: string | undefined, flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const n = num(v, flag);
  if (n === undefined) return undefined;
  const what = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer ≥ ${min}`;
  if (!Number.isSafeInteger(n) || n < min) throw bad(flag, what, v!);
  if (n > max) throw bad(flag, `at most ${max}`, v!);
  return n;
}

/** A number > 0. */
export function positive(v: string | undefined, flag: string): number | undefined {
  const n = num(v, flag);
  if (n !== undefined && !(n > 0)) throw bad(flag, 'greater than 0', v!);
  return n;
}

/** A number ≥ 0 (0 usually meaning "none"). */
export function nonNegative(v: string | undefined, flag: string): number | undefined {
  const n = num(v, flag);
  if (n !== undefined && !(n >= 0)) throw bad(flag, 'a number ≥ 0', v!);
  return n;
}

/** A number in [lo, hi], or (lo, hi] with `openLow`. */
export function inRange(
  v: string | undefined,
  flag: string,
  lo: number,
  hi: number,
  openLow = false,
): number | undefined {
  const n = num(v, flag);
  if (n === undefined) return undefined;
  if ((openLow ? n <= lo : n < lo) || n > hi)
    throw bad(flag, `between ${lo}${openLow ? ' (exclusive)' : ''} and ${hi}`, v!);
  return n;
}
