import { strict as assert } from 'node:assert';
import { setFastKernels } from '../../../../src/core/kernels';
import { GPTConfig, MODERN_RECIPE } from '../../../../src/core/model/config';
import { GPT, initialWeights } from '../../../../src/core/model/gpt';
import { CachedDecoder, generate, generateBatch } from '../../../../src/core/sample';
import { assertClose, decodingTokenizer, fullLogits, largeWeights, SMALL_GPT2 } from '../../helpers/decoding';
import { useWasm } from '../../helpers/tf';

// Sizes that leave remainders everywhere in decode.c: a vocabulary and widths not multiples of 4 or 32, head
// sizes of 6 and 12 (not multiples of 4), more than 4 rows (a 4-row tile and a remainder).
const GPT2 = SMALL_GPT2;
const CONFIGS: Record<string, GPTConfig> = {
  'GPT-2': GPT2,
  'GPT-2, odd sizes': { vocabSize: 50, contextLength: 30, nEmbd: 36, nLayer: 3, nHead: 3, positionEncoding: 'learned' },
  sinusoidal: { ...GPT2, nEmbd: 24, positionEncoding: 'sinusoidal' },
  modern: { ...GPT2, ...MODERN_RECIPE, zeroInitProj: false },
  'modern, head size 6': { ...GPT2, ...MODERN_RECIPE, zeroInitProj: false, nEmbd: 24, vocabSize: 61 },
  'modern with value residual and embedding shortcut': {
    ...GPT2,
    ...MODERN_RECIPE,
    zeroInitProj: false,
    nLayer: 3,
    valueResidual: true,
    embedShortcut: true,
  },
};
const tok = decodingTokenizer;

/** Large weights (decoding.ts), LayerNorm gains off 1 and the mixes off their initial values. */
function model(c: GPTConfig, seed: number): GPT {
  const w = largeWeights(c, seed);
  for (const [name, a] of w) if (/ln_/.test(name)) for (let i = 0; i < a.length; i++) a[i] += 0.1 * Math.sin(i);
  for (const [name, a] of w) if (/_mix$/.test(name)) a.set(name.endsWith('x0_mix') ? [0.7, 0.4] : [0.3]);
  return new GPT(c, w);
}

describe('the wasm decoder (decode.c) against the reference forward pass', () => {
  before(useWasm);
  after(() => setFastKernels(true));

  for (const [name, c] of Object.entries(CONFIGS)) {
    it(`gives a full recompute's logits for rows of different lengths, up to the context (${name})`, () => {
      const m = model(c, 11);
      const R = 6;
      const dec = new CachedDecoder(m, R);
      try {
        assert.equal(dec.engine, 'wasm');
        const V = c.vocabSize;
        const ctx = c.contextLength;
        const seqs = Array.from({ length: R }, (_, r) =>
          Array.from({ length: ctx }, (_, i) => (i * (r + 3) + r * 5 + 1) % V),
        );
        const full = seqs.map((s) => fullLogits(m, s));
        const at = (r: number, p: number) => full[r].subarray(p * V, (p + 1) * V);
        // Prompts of different lengths in one step (row 4 none yet), then one token a row, then chunks.
        const prompt = [9, 1, 5, 2, 0, 7];
        let out = dec.step(prompt.flatMap((n, r) => (n ? [{ row: r, tokens: seqs[r].slice(0, n) }] : [])));
        prompt
          .filter((n) => n)
          .forEach((n, i) => {
            const r = prompt.indexOf(n);
            assertClose(out.subarray(i * V, (i + 1) * V), at(r, n - 1), `row ${r}'s prompt`);
          });
        while (dec.lengths.some((n) => n < ctx)) {
          const rows = [...dec.lengths.keys()].filter((r) => dec.lengths[r] < ctx);
          const items = rows.map((r) => {
            const n = Math.min(r === 2 ? 3 : 1, ctx - dec.lengths[r]);
            return { row: r, tokens: seqs[r].slice(dec.lengths[r], dec.lengths[r] + n) };
          });
          out = dec.step(items);
          items.forEach((it, i) =>
            assertClose(
              out.subarray(i * V, (i + 1) * V),
              at(it.row, dec.lengths[it.row] - 1),
              `row ${it.row} at ${dec.lengths[it.row]}`,
            ),
          );
        }
        // A row emptied and refilled (a sliding window) starts over.
        dec.resetRow(3);
        out = dec.step([{ row: 3, tokens: seqs[1].slice(0, 4) }]);
        assertClose(out, at(1, 3), 'a reset row');
      } finally {
        dec.dispose();
        m.dispose();
      }
    });
  }

  it('a decoder made after the weights changed reads the new ones; one made before says its cache is stale', () => {
    const c = CONFIGS.modern;
    const m = model(c, 2);
    const before = new CachedDecoder(m, 1);
    try {
      before.step([{ row: 0, tokens: [1, 2, 3] }]);
      assert.ok(before.current());
      m.setWeights(initialWeights(c, 9));
      assert.ok(!before.current());
      const after = new CachedDecoder(m, 1);
      try {
        assertClose(
          after.step([{ row: 0, tokens: [1, 2, 3] }]),
          fullLogits(m, [1, 2, 3]).subarray(2 * c.vocabSize),
          'new weights',
        );
        assert.ok(after.current() && !before.current());
      } finally {
        after.dispose();
      }
    } finally {
      before.dispose();
      m.dispose();
    }
  });

  it('rejects tokens outside the vocabulary (the module would read past the embedding)', () => {
    const m = model(GPT2, 1);
    const dec = new CachedDecoder(m, 1);
    try {
      assert.throws(() => dec.step([{ row: 0, tokens: [1, 97] }]), /outside the vocabulary/);
      assert.throws(() => dec.step([{ row: 1, tokens: [1] }]), /no row/);
      assert.equal(dec.lengths[0], 0);
    } finally {
      dec.dispose();
      m.dispose();
    }
  });

  for (const name of ['GPT-2', 'modern', 'modern with value residual and embedding shortcut']) {
    it(`generates token for token what the reference path does, batch 1 and batched, past the context (${name})`, () => {
      const c = CONFIGS[name];
      const m = model(c, 4);
      try {
        const prompts = [
          [1, 2, 3],
          [],
          Array.from({ length: 30 }, (_, i) => (i * 11) % 90),
          [40, 41, 42, 43, 44, 45, 46],
        ];
        const greedy = { maxTokens: 36, temperature: 0, suppressTokens: [95] };
        const sampled = { maxTokens: 20, temperature: 0.9, topK: 20, seeds: [4, 5, 6, 7] };
        const run = () => ({
          batch: generateBatch(m, tok, prompts, greedy).map((r) => r.tokens),
          sampled: generateBatch(m, tok, prompts, sampled).map((r) => r.tokens),
          one: prompts.map((p) => generate(m, tok, p, greedy).tokens),
        });
        const fast = run();
        setFastKernels(false);
        const reference = run();
        setFastKernels(true);
        assert.ok(
          fast.one.some((t) => t.length > 30),
          'a row runs past the 24-token context',
        );
        assert.deepEqual(fast, reference);
        assert.deepEqual(fast.batch, fast.one);
      } finally {
        m.dispose();
      }
    });
  }
});
