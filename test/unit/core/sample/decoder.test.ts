import { strict as assert } from 'node:assert';
import { GPTConfig, MODERN_RECIPE } from '../../../../src/core/model/config';
import { GPT, initialWeights } from '../../../../src/core/model/gpt';
import { CachedDecoder, generate, generateBatch, Generator } from '../../../../src/core/sample';
import { assertClose, decodingTokenizer, fullLogits, largeWeights, SMALL_GPT2 } from '../../helpers/decoding';
import { numTensors, useWasm } from '../../helpers/tf';

const BASE = SMALL_GPT2;
const RECIPES: Record<string, GPTConfig> = {
  'GPT-2': BASE,
  sinusoidal: { ...BASE, positionEncoding: 'sinusoidal' },
  'modern (rotary, QK-norm, ReLU², untied, no biases, soft-cap)': { ...BASE, ...MODERN_RECIPE, zeroInitProj: false },
};
const tok = decodingTokenizer;

const model = (c: GPTConfig, seed: number) => new GPT(c, largeWeights(c, seed));

describe('KV-cached decoding (CachedDecoder, batched generation)', () => {
  before(useWasm);

  for (const [recipe, c] of Object.entries(RECIPES)) {
    it(`gives a full recompute's logits, rows of any length in one step (${recipe})`, () => {
      const m = model(c, 3);
      const dec = new CachedDecoder(m, 3);
      try {
        const seqA = Array.from({ length: 20 }, (_, i) => (i * 7 + 1) % 96);
        const seqB = Array.from({ length: 9 }, (_, i) => (i * 13 + 5) % 96);
        const V = c.vocabSize;
        // Row 2 gets a prompt of 12 and row 0 one of 3 in the same step; then single tokens and a chunk of 4.
        let out = dec.step([
          { row: 2, tokens: seqA.slice(0, 12) },
          { row: 0, tokens: seqB.slice(0, 3) },
        ]);
        assertClose(out.subarray(0, V), fullLogits(m, seqA.slice(0, 12)).subarray(11 * V), 'row 2 after its prompt');
        assertClose(out.subarray(V), fullLogits(m, seqB.slice(0, 3)).subarray(2 * V), 'row 0 after its prompt');
        for (let n = 12; n < 16; n++) {
          out = dec.step([
            { row: 0, tokens: [seqB[n - 9]] },
            { row: 2, tokens: [seqA[n]] },
          ]);
          assertClose(out.subarray(V), fullLogits(m, seqA.slice(0, n + 1)).subarray(n * V), `row 2, position ${n}`);
          assertClose(out.subarray(0, V), fullLogits(m, seqB.slice(0, n - 8)).subarray((n - 9) * V), `row 0, ${n - 9}`);
        }
        out = dec.step([{ row: 2, tokens: seqA.slice(16, 20) }]);
        assertClose(out, fullLogits(m, seqA).subarray(19 * V), 'row 2 after a chunk');
        assert.deepEqual([...dec.lengths], [7, 0, 20]);
        assert.throws(() => dec.step([{ row: 2, tokens: seqA.slice(0, 5) }]), /exceeds/);
      } finally {
        dec.dispose();
        m.dispose();
      }
    });
  }

  it('batched generation equals batch-1 generation row by row, past the context too, and recomputing', () => {
    const m = model(BASE, 5);
    try {
      const prompts = [
        [1, 2, 3],
        [],
        Array.from({ length: 30 }, (_, i) => (i * 11) % 90),
        [40, 41, 42, 43, 44, 45, 46],
      ];
      const before = numTensors();
      const opts = { maxTokens: 40, temperature: 0, suppressTokens: [95] };
      const rows = generateBatch(m, tok, prompts, opts);
      assert.equal(numTensors(), before, 'no tensor left behind');
      assert.ok(
        rows.some((r) => r.tokens.length > 30),
        'a row runs past the 24-token context',
      );
      prompts.forEach((p, i) => {
        const one = generate(m, tok, p, { ...opts, suppressTokens: [95] });
        assert.deepEqual(rows[i].tokens, one.tokens, `row ${i}`);
        assert.equal(rows[i].stopReason, one.stopReason === 'end-of-text' ? 'end-of-text' : 'limit');
        assert.ok(!rows[i].tokens.includes(95));
      });
      // Within the context, the cache changes nothing against the recomputing path (other backends use it).
      const suits = CachedDecoder.suits;
      const short = { maxTokens: 12, temperature: 0 };
      const cached = generateBatch(m, tok, prompts.slice(0, 2).concat([[7, 8, 9, 10, 11]]), short);
      CachedDecoder.suits = () => false;
      try {
        const recomputed = generateBatch(m, tok, prompts.slice(0, 2).concat([[7, 8, 9, 10, 11]]), short);
        assert.deepEqual(
          cached.map((r) => r.tokens),
          recomputed.map((r) => r.tokens),
        );
      } finally {
        CachedDecoder.suits = suits;
      }
      // Sampling draws the same per-row seeded tokens as batch-1 sampling.
      const s = { maxTokens: 15, temperature: 0.9, topK: 20, seeds: [4, 5, 6, 7] };
      const sampled = generateBatch(m, tok, prompts, s);
      prompts.forEach((p, i) =>
        assert.deepEqual(sampled[i].tokens, generate(m, tok, p, { ...s, seed: s.seeds[i] }).tokens, `sampled ${i}`),
      );
    } finally {
      m.dispose();
    }
  });

  it('a reused Generator drops its cache when the weights change', () => {
    const m = model(BASE, 7);
    const gen = new Generator(m);
    try {
      const seq = [5, 6, 7, 8, 9];
      gen.next(seq.slice(0, 4));
      m.setWeights(initialWeights(BASE, 8));
      // The same sequence, one token longer, would extend the cache; the new weights must be used throughout.
      assertClose(gen.next(seq), fullLogits(m, seq).subarray(4 * BASE.vocabSize), 'after setWeights');
    } finally {
      gen.dispose();
      m.dispose();
    }
  });

  it('minTokens keeps end-of-text from ending a row before it has that many tokens', () => {
    // ln_f gives every position the same vector b, and end-of-text's embedding is a large multiple of it: the
    // tied head then makes end-of-text the likeliest next token everywhere.
    const w = initialWeights(BASE, 5);
    const C = BASE.nEmbd;
    w.get('ln_f.weight')!.fill(0);
    const b = w.get('ln_f.bias')!;
    for (let i = 0; i < C; i++) b[i] = i % 2 ? 1 : -1;
    const wte = w.get('wte.weight')!;
    for (let i = 0; i < C; i++) wte[96 * C + i] = 50 * b[i];
    const m = new GPT(BASE, w);
    const prompts = [
      [1, 2, 3],
      [4, 5],
    ];
    const plain = generateBatch(m, tok, prompts, { maxTokens: 5, temperature: 0 });
    assert.deepEqual(
      plain.map((r) => [r.tokens.length, r.stopReason]),
      [
        [0, 'end-of-text'],
        [0, 'end-of-text'],
      ],
    );
    const held = generateBatch(m, tok, prompts, { maxTokens: 5, temperature: 0, minTokens: 2 });
    assert.deepEqual(
      held.map((r) => [r.tokens.length, r.stopReason]),
      [
        [2, 'end-of-text'],
        [2, 'end-of-text'],
      ],
    );
    assert.ok(held.every((r) => !r.tokens.includes(96)));
  });
});
