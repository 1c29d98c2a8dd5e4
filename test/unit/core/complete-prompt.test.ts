import { strict as assert } from 'node:assert';
import { fimPrompt } from '../../../src/core/complete';
import { GptLabError } from '../../../src/core/errors';
import { trainTokenizer, type Tokenizer } from '../../../src/core/tokenizer';
import { codeFiles } from '../helpers/tf';

describe('completion prompt (fill-in-the-middle)', () => {
  const tok = trainTokenizer(
    codeFiles(2).map((f) => f.bytes),
    { vocabSize: 300 },
  );
  const { fimPrefix: P, fimSuffix: S, fimMiddle: M } = tok.specials;
  const code = new TextDecoder().decode(codeFiles(1)[0].bytes);
  const opts = { contextLength: 64, maxNewTokens: 16, fim: true };
  const budget = 64 - 16 - 3;

  /** Splits a PSM prompt into its prefix and suffix ids, checking where the special tokens are. */
  function parts(ids: number[]): { pre: number[]; suf: number[] } {
    assert.equal(ids[0], P);
    assert.equal(ids[ids.length - 1], M);
    const s = ids.indexOf(S);
    assert.ok(s > 0);
    assert.equal(ids.filter((t) => t === P || t === S || t === M).length, 3);
    return { pre: ids.slice(1, s), suf: ids.slice(s + 1, -1) };
  }

  it('puts short prefix and suffix whole in PSM order', () => {
    const r = fimPrompt(tok, 'function add(a, b) {\n  return ', ';\n}\n', opts);
    assert.deepEqual(r.ids, [P, ...tok.encode('function add(a, b) {\n  return '), S, ...tok.encode(';\n}\n'), M]);
    assert.equal(r.prefixTokens, tok.encode('function add(a, b) {\n  return ').length);
    assert.equal(r.suffixTokens, tok.encode(';\n}\n').length);
  });

  it('works at the start of a file (empty prefix) and at its end (empty suffix)', () => {
    const start = fimPrompt(tok, '', code, opts);
    assert.deepEqual(parts(start.ids).pre, []);
    assert.equal(start.prefixTokens, 0);
    // All the budget goes to the suffix, cut from the right.
    assert.deepEqual(parts(start.ids).suf, tok.encode(code).slice(0, budget));
    const end = fimPrompt(tok, code, '', opts);
    assert.deepEqual(parts(end.ids).suf, []);
    assert.deepEqual(parts(end.ids).pre, tok.encode(code).slice(-budget));
    assert.equal(end.ids.length, 64 - 16);
  });

  it('cuts a long prefix on the left and a long suffix on the right, giving the prefix its share', () => {
    const half = code.length >> 1;
    const r = fimPrompt(tok, code.slice(0, half), code.slice(half), opts);
    assert.ok(r.ids.length <= opts.contextLength - opts.maxNewTokens);
    assert.equal(r.prefixTokens, Math.floor(budget * 0.75));
    assert.equal(r.suffixTokens, budget - r.prefixTokens);
    const { pre, suf } = parts(r.ids);
    assert.deepEqual(pre, tok.encode(code.slice(0, half)).slice(-r.prefixTokens));
    assert.deepEqual(suf, tok.encode(code.slice(half)).slice(0, r.suffixTokens));
    const even = fimPrompt(tok, code.slice(0, half), code.slice(half), { ...opts, prefixShare: 0.5 });
    assert.equal(even.prefixTokens, Math.floor(budget / 2));
  });

  it('gives the budget one side leaves to the other', () => {
    const shortSuffix = fimPrompt(tok, code, '\n}', opts);
    assert.equal(shortSuffix.suffixTokens, tok.encode('\n}').length);
    assert.equal(shortSuffix.prefixTokens, budget - shortSuffix.suffixTokens);
    const shortPrefix = fimPrompt(tok, 'x', code, opts);
    assert.equal(shortPrefix.prefixTokens, 1);
    assert.equal(shortPrefix.suffixTokens, budget - 1);
  });

  it('fits exactly at the limit and refuses when nothing fits', () => {
    const tight = fimPrompt(tok, code, code, { contextLength: 19, maxNewTokens: 16, fim: true });
    assert.deepEqual(tight.ids, [P, S, M]);
    assert.throws(
      () => fimPrompt(tok, 'x', '', { contextLength: 18, maxNewTokens: 16, fim: true }),
      (e: unknown) => e instanceof GptLabError && e.code === 'NO_ROOM_FOR_PROMPT',
    );
  });

  it('gives the prefix alone without fill-in-the-middle', () => {
    const r = fimPrompt(tok, code, 'ignored', { ...opts, fim: false });
    assert.deepEqual(r.ids, tok.encode(code).slice(-(64 - 16)));
    assert.equal(r.suffixTokens, 0);
    assert.deepEqual(fimPrompt(tok, '', 'x', { ...opts, fim: false }).ids, []);
  });

  it('encodes only a window of a huge file, with the same tokens as the whole', () => {
    const huge = code.repeat(60) + '\n\n' + ' '.repeat(300) + 'x = 1;\n'; // ~300 KB, ending in a long run
    let encoded = 0;
    const counting = Object.assign(Object.create(tok) as Tokenizer, {
      encode: (s: string | Uint8Array) => ((encoded += s.length), tok.encode(s)),
    });
    const r = fimPrompt(counting, huge, huge, { contextLength: 512, maxNewTokens: 64, fim: true });
    const { pre, suf } = parts(r.ids);
    assert.deepEqual(pre, tok.encode(huge).slice(-r.prefixTokens));
    assert.deepEqual(suf, tok.encode(huge).slice(0, r.suffixTokens));
    assert.ok(encoded < huge.length / 10, `encoded ${encoded} of ${2 * huge.length} characters`);
  });
});
