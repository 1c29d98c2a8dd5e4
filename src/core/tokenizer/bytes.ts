/** Byte helpers shared by training and encoding. */

const encoder = new TextEncoder();

/** UTF-8 bytes of a string; a Uint8Array passes through untouched. */
export function toBytes(input: string | Uint8Array): Uint8Array {
  return typeof input === 'string' ? encoder.encode(input) : input;
}

/**
 * A string with one char per byte (0..255), used as a Map key for a byte range: strings hash and compare
 * fast in V8, and the mapping is one-to-one, so equal keys mean equal bytes.
 */
export function byteKey(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 16) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
}

/**
 * Length of the well-formed UTF-8 sequence starting at `i` (1..4), or 0 if the bytes there are not one
 * (WHATWG rules: no overlongs, no surrogates, nothing above U+10FFFF).
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  let len: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) len = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + len > bytes.length) return 0;
  const b1 = bytes[i + 1];
  if (b1 < lo || b1 > hi) return 0;
  for (let k = 2; k < len; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return 0;
  return len;
}

const VISIBLE: Record<number, string> = { 0x20: '·', 0x09: '→', 0x0a: '↵', 0x0d: '␍' };
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes as a human-readable string: whitespace made visible (space '·', tab '→', newline '↵',
 * carriage return '␍'), other control bytes and bytes that are not valid UTF-8 as '\xNN'.
 */
export function displayBytes(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const visible = VISIBLE[b];
    if (visible !== undefined) {
      out += visible;
      i++;
      continue;
    }
    const len = b < 0x20 || b === 0x7f ? 0 : utf8SequenceLength(bytes, i);
    if (len === 0) {
      out += '\\x' + b.toString(16).padStart(2, '0').toUpperCase();
      i++;
    } else {
      out += strictDecoder.decode(bytes.subarray(i, i + len));
      i += len;
    }
  }
  return out;
}
