import { strict as assert } from 'node:assert';
import { GPT } from '../../../src/core/model/gpt';
import { softmax, topTokens } from '../../../src/core/sample';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { attentionOf, stepOf, tokenStrip } from '../../../src/worker/inspect';
import { codeFiles, TINY, useWasm } from '../helpers/tf';

describe('inspector and stepper computations (worker)', () => {
  before(useWasm);
  const tok = trainTokenizer(
    codeFiles(2).map((f) => f.bytes),
    { vocabSize: 300 },
  );
  const cfg = { ...TINY, vocabSize: tok.vocabSize, contextLength: 24 };

  it('maps tokens back to UTF-16 spans of the text, also across emoji and accents, keeping the last context', () => {
    const text = 'const café = "😀";\nreturn café;';
    const { strip } = tokenStrip(tok, text, 1000);
    assert.equal(strip.ids.length, strip.offsets.length);
    assert.equal(strip.offsets[0][0], 0);
    assert.equal(strip.offsets[strip.offsets.length - 1][1], text.length);
    for (let i = 1; i < strip.offsets.length; i++) assert.equal(strip.offsets[i][0], strip.offsets[i - 1][1]);
    const joined = strip.offsets.map(([a, b]) => text.slice(a, b)).join('');
    assert.equal(joined, text);
    const cut = tokenStrip(tok, text, 3);
    assert.equal(cut.strip.ids.length, 3);
    assert.deepEqual(cut.strip.offsets, strip.offsets.slice(-3));
  });

  it('returns every layer and head of causal attention as one Float32Array [L, H, T, T]', async () => {
    const m = GPT.create(cfg, 3);
    try {
      const a = await attentionOf(m, tok, 'export function add(a: number) {\n  return a;\n}');
      const T = a.tokens.ids.length;
      assert.ok(T > 5 && T <= cfg.contextLength);
      assert.ok(a.weights instanceof Float32Array);
      assert.equal(a.weights.length, cfg.nLayer * cfg.nHead * T * T);
      for (let lh = 0; lh < cfg.nLayer * cfg.nHead; lh++) {
        for (let q = 0; q < T; q++) {
          let sum = 0;
          for (let k = 0; k < T; k++) {
            const w = a.weights[(lh * T + q) * T + k];
            if (k > q) assert.equal(w, 0);
            sum += w;
          }
          assert.ok(Math.abs(sum - 1) < 1e-5);
        }
      }
    } finally {
      m.dispose();
    }
  });

  it('says how many tokens the text has when it keeps only the last context of them', async () => {
    const m = GPT.create(cfg, 5);
    try {
      const text = Array.from({ length: 5 }, (_, i) => `export const value${i} = add(${i}, ${i * 7}) + 123456;`).join(
        '\n',
      );
      const a = await attentionOf(m, tok, text);
      assert.equal(a.tokens.ids.length, cfg.contextLength);
      assert.equal(a.contextLength, cfg.contextLength);
      assert.equal(a.totalTokens, tok.encode(text).length);
      assert.ok(a.totalTokens > cfg.contextLength);
      const short = await attentionOf(m, tok, 'return a;');
      assert.equal(short.totalTokens, short.tokens.ids.length);
    } finally {
      m.dispose();
    }
  });

  it("has a logit lens whose last layer agrees with the model's own next-token distribution", async () => {
    const m = GPT.create(cfg, 4);
    try {
      const s = await stepOf(m, tok, tok.encode('return a + '));
      assert.equal(s.lens.length, cfg.nLayer);
      const probs = softmax(s.logits);
      const top = topTokens(probs, 3);
      const last = s.lens[s.lens.length - 1].top;
      assert.deepEqual(
        last.map((t) => t.display),
        top.map((t) => tok.tokenDisplay(t.token)),
      );
      last.forEach((t, i) => assert.ok(Math.abs(t.prob - top[i].prob) < 1e-5));
      assert.equal(s.logits.length, tok.vocabSize);
      assert.equal(s.candidates[0].token, top[0].token);
    } finally {
      m.dispose();
    }
  });
});
