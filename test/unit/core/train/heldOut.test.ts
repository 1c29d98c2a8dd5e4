import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { GPT } from '../../../../src/core/model/gpt';
import { trainTokenizer } from '../../../../src/core/tokenizer';
import { heldOutBitsPerByte, heldOutStream, scoredRanges, slidingWindows } from '../../../../src/core/train/heldOut';
import { codeFiles, numTensors, TINY, useWasm } from '../../helpers/tf';

/** Log-probability of tokens[j] from one forward pass over exactly tokens[start, j) (batch 1, last position). */
function directLogProb(model: GPT, tokens: Int32Array, start: number, j: number): number {
  const n = j - start;
  const lp = tf.tidy(() =>
    model.tokenLogProbs(
      tf.tensor2d(tokens.subarray(start, j), [1, n], 'int32'),
      tf.tensor2d(tokens.subarray(start + 1, j + 1), [1, n], 'int32'),
    ),
  );
  const v = lp.dataSync()[n - 1];
  lp.dispose();
  return v;
}

/** The window start of target j, derived on its own: the first L targets from 0, then windows every ⌊L/2⌋. */
function startOf(j: number, n: number, L: number): number {
  if (j <= L) return 0;
  const stride = Math.floor(L / 2);
  const k = Math.ceil((j - L) / stride);
  return Math.min(k * stride, n - 1 - L);
}

function randomStream(n: number, vocab: number, seed: number): Int32Array {
  let s = seed;
  return Int32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s % vocab;
  });
}

describe('held-out bits per byte: every token, sliding windows of the context', function () {
  this.timeout(120_000);
  before(useWasm);

  it('scores every target index exactly once, with at least half a context after the first window', () => {
    for (const [n, T] of [
      [1, 16],
      [2, 16],
      [10, 16],
      [17, 16],
      [18, 16],
      [100, 16],
      [101, 15],
      [64, 1],
    ]) {
      const ws = slidingWindows(n, T);
      const L = Math.min(T, n - 1);
      const count = new Array(n).fill(0);
      for (const w of ws) {
        assert.ok(w.start >= 0 && w.start + L + 1 <= n, `window inside the stream (n ${n}, T ${T})`);
        for (let j = w.from; j <= w.to; j++) {
          count[j]++;
          assert.ok(j - w.start >= 1 && j - w.start <= L, `target ${j} inside its window`);
          if (w.start > 0)
            assert.ok(j - w.start >= L - Math.max(1, Math.floor(L / 2)) + 1, `target ${j} has half a context`);
        }
      }
      assert.deepEqual(count.slice(1), new Array(Math.max(0, n - 1)).fill(1), `n ${n}, T ${T}`);
      assert.equal(count[0], 0);
    }
    // A stream shorter than the context is one window; one token longer is two.
    assert.deepEqual(slidingWindows(10, 16), [{ start: 0, from: 1, to: 9 }]);
    assert.deepEqual(slidingWindows(18, 16), [
      { start: 0, from: 1, to: 16 },
      { start: 1, from: 17, to: 17 },
    ]);
  });

  it('equals a direct per-token computation on a tiny random model (full stream, short stream)', async () => {
    const model = GPT.create({ ...TINY, positionEncoding: 'rotary' }, 3);
    try {
      const T = model.config.contextLength;
      for (const n of [7, T + 1, T + 2, 75]) {
        const tokens = randomStream(n, TINY.vocabSize, n);
        const L = Math.min(T, n - 1);
        let nats = 0;
        for (let j = 1; j < n; j++) nats -= directLogProb(model, tokens, startOf(j, n, L), j);
        const bytes = 3 * n;
        const before = numTensors();
        const r = await heldOutBitsPerByte(model, tokens, bytes, { batchTokens: 3 * T });
        assert.equal(numTensors(), before, 'no tensors left behind');
        assert.ok(r);
        assert.equal(r.scoredTokens, n - 1);
        assert.equal(r.totalTokens, n - 1);
        assert.ok(Math.abs(r.loss - nats / (n - 1)) < 1e-4, `n ${n}: ${r.loss} vs ${nats / (n - 1)}`);
        assert.ok(Math.abs(r.bitsPerByte - nats / Math.LN2 / bytes) < 1e-4);
      }
    } finally {
      model.dispose();
    }
  });

  it('caps a long stream to evenly spaced segments, each token still scored once with its context', async () => {
    const ranges = scoredRanges(1001, 300, 100);
    assert.deepEqual(ranges, [
      [1, 101],
      [451, 551],
      [901, 1001],
    ]);
    assert.deepEqual(scoredRanges(301, 300, 100), [[1, 301]]);
    const model = GPT.create(TINY, 5);
    try {
      const tokens = randomStream(1001, TINY.vocabSize, 9);
      const r = await heldOutBitsPerByte(model, tokens, 4000, { maxTokens: 300, segmentTokens: 100 });
      assert.ok(r);
      assert.equal(r.scoredTokens, 300);
      assert.equal(r.totalTokens, 1000);
      // The middle segment's first target has context from before the segment.
      const mid = slidingWindows(1001, TINY.contextLength, 451, 551)[0];
      assert.equal(mid.from - mid.start, TINY.contextLength / 2 + 1);
      let nats = 0;
      for (const [a, b] of ranges) {
        for (const w of slidingWindows(1001, TINY.contextLength, a, b)) {
          for (let j = w.from; j <= w.to; j++) nats -= directLogProb(model, tokens, w.start, j);
        }
      }
      // Bits over the bytes of the scored share: 300 of 1000 tokens → 1200 of 4000 bytes.
      assert.ok(Math.abs(r.bitsPerByte - nats / Math.LN2 / 1200) < 1e-4, `${r.bitsPerByte}`);
      // Given each token's bytes, a capped measure divides by the bytes of the tokens it scored.
      const tokenBytes = Uint16Array.from({ length: 1001 }, (_, i) => (i % 7) + 1);
      let scoredBytes = 0;
      for (const [a, b] of ranges) for (let j = a; j < b; j++) scoredBytes += tokenBytes[j];
      const rb = await heldOutBitsPerByte(model, tokens, 4000, { maxTokens: 300, segmentTokens: 100, tokenBytes });
      assert.ok(Math.abs(rb!.bitsPerByte - nats / Math.LN2 / scoredBytes) < 1e-4, `${rb!.bitsPerByte}`);
      let calls = 0;
      const stopped = await heldOutBitsPerByte(model, tokens, 4000, { batchTokens: 16, shouldStop: () => ++calls > 2 });
      assert.equal(stopped, undefined);
      assert.equal(calls, 3);
    } finally {
      model.dispose();
    }
  });

  it('builds the stream as training does: end-of-text first and after every file, bytes of the files only', () => {
    const files = codeFiles(3).map((f) => f.bytes);
    const tok = trainTokenizer(files, { vocabSize: 300 });
    const s = heldOutStream(tok, files);
    const eot = tok.specials.endOfText;
    assert.equal(
      s.bytes,
      files.reduce((n, f) => n + f.length, 0),
    );
    assert.equal(s.tokens[0], eot);
    assert.equal(s.tokens.filter((t) => t === eot).length, files.length + 1);
    assert.equal(s.tokens.length, 1 + files.reduce((n, f) => n + tok.encode(f).length + 1, 0));
    assert.equal(s.tokens.at(-1), eot);
    assert.equal(
      s.tokenBytes.reduce((n, b) => n + b, 0),
      s.bytes,
      'the tokens carry the files’ bytes, end-of-text none',
    );
  });
});
