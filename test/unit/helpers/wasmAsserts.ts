import * as assert from 'node:assert/strict';

/** Elementwise closeness relative to the expected values' largest magnitude (at least 1e-3). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1e-3;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    assert.ok(d <= tol * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (|Δ| ${d}, scale ${scale})`);
  }
}

/** The section ids of a WebAssembly binary, in order (after the 8-byte header; sizes are LEB128). */
export function wasmSectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  for (let o = 8; o < bytes.length;) {
    ids.push(bytes[o++]);
    let n = 0;
    let shift = 0;
    let c: number;
    do {
      c = bytes[o++];
      n |= (c & 127) << shift;
      shift += 7;
    } while (c & 128);
    o += n;
  }
  return ids;
}
