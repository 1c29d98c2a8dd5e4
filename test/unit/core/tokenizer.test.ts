import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { GptLabError } from '../../../src/core/errors';
import {
  FIRST_MERGE_ID,
  pretokenize,
  SPECIAL_TOKENS,
  Tokenizer,
  trainTokenizer,
  type Merge,
} from '../../../src/core/tokenizer';

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array): string => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);

/** Real code, pinned by package-lock: TypeScript's own compiler source (about 9 MB of JavaScript). */
const typescriptJs = readFileSync(require.resolve('typescript/lib/typescript.js'));
const UNICODE_LINES = [
  '// héllo wörld, naïve café — «quotes» “curly” ‘single’\n',
  'const greeting = "こんにちは世界"; // 你好，世界\n',
  'const emoji = "🚀🔥👍🏽👨‍👩‍👧"; // ZWJ sequence\n',
  'let π = 3.14159, λ = (x) => x * 2; // Ελληνικά, русский\n',
];
const smallCorpus = [typescriptJs.subarray(0, 200_000), ...UNICODE_LINES.map((l) => l.repeat(20))];
/** Trained once in `before` on a small code corpus; shared by the tests that only read it. */
let tok: Tokenizer;

function assertThrowsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GptLabError, `expected a GptLabError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** The textbook encoder: apply every merge, in rank order, to each pre-token. */
function naiveEncode(t: Tokenizer, bytes: Uint8Array): number[] {
  return pretokenize(bytes).flatMap((p) => {
    let sym = Array.from(p);
    t.merges.forEach(([a, b], rank) => {
      const out: number[] = [];
      for (let r = 0; r < sym.length;) {
        if (r + 1 < sym.length && sym[r] === a && sym[r + 1] === b) {
          out.push(FIRST_MERGE_ID + rank);
          r += 2;
        } else out.push(sym[r++]);
      }
      sym = out;
    });
    return sym;
  });
}

/** The textbook trainer: recount every pair from scratch before each merge. Slow, obviously right. */
function naiveMerges(docs: string[], vocabSize: number, minFrequency = 2): Merge[] {
  const counts = new Map<string, number>();
  for (const doc of docs) {
    for (const p of pretokenize(doc)) {
      const key = Array.from(p).join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const words = [...counts].map(([key, freq]) => ({ sym: key.split(',').map(Number), freq }));
  const merges: Merge[] = [];
  while (FIRST_MERGE_ID + merges.length < vocabSize) {
    const pairs = new Map<string, number>();
    for (const { sym, freq } of words) {
      for (let k = 0; k + 1 < sym.length; k++) {
        const key = `${sym[k]},${sym[k + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + freq);
      }
    }
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [key, count] of pairs) {
      const [a, b] = key.split(',').map(Number);
      const better =
        count > bestCount || (count === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])));
      if (better) [best, bestCount] = [[a, b], count];
    }
    if (!best || bestCount < minFrequency) break;
    const [a, b] = best;
    const id = FIRST_MERGE_ID + merges.length;
    merges.push([a, b]);
    for (const w of words) {
      const out: number[] = [];
      for (let r = 0; r < w.sym.length;) {
        if (r + 1 < w.sym.length && w.sym[r] === a && w.sym[r + 1] === b) {
          out.push(id);
          r += 2;
        } else out.push(w.sym[r++]);
      }
      w.sym = out;
    }
  }
  return merges;
}

describe('tokenizer', () => {
  before(() => {
    tok = trainTokenizer(smallCorpus, { vocabSize: 512 });
  });

  describe('pre-tokenization', () => {
    const cases: [string, string[]][] = [
      ['foo_bar baz', ['foo_bar', ' baz']],
      ['if (x) {\n    return y;\n}', ['if', ' (', 'x', ')', ' {', '\n    ', 'return', ' y', ';', '\n', '}']],
      ['a => b === c', ['a', ' =>', ' b', ' ===', ' c']],
      ['f();\r\n\tg', ['f', '();', '\r\n\t', 'g']],
      ['x1 = 1234567', ['x', '1', ' =', ' 123', '456', '7']],
      ['a  b', ['a', '  ', 'b']],
      ['end ', ['end', ' ']],
      ['/** doc */', ['/**', ' doc', ' */']],
      ['naïve 世界🚀', ['naïve', ' 世界🚀']],
    ];
    for (const [input, expected] of cases) {
      it(`splits ${JSON.stringify(input)} into ${JSON.stringify(expected)}`, () => {
        assert.deepEqual(pretokenize(input).map(text), expected);
      });
    }

    it('cuts very long runs into chunks without splitting a UTF-8 character', () => {
      const long = 'é'.repeat(100); // 200 bytes
      const pieces = pretokenize(long);
      assert.ok(pieces.length > 1);
      assert.ok(pieces.every((p) => p.length <= 64 && text(p).length * 2 === p.length));
      assert.equal(pieces.map(text).join(''), long);
    });

    it('tiles any byte sequence exactly', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          const joined = Buffer.concat(pretokenize(bytes));
          assert.deepEqual(new Uint8Array(joined), bytes);
        }),
      );
    });
  });

  describe('training', () => {
    it('learns the most frequent pair first: "aaaa aaaa aaaa" merges (97, 97)', () => {
      const t = trainTokenizer(['aaaa aaaa aaaa'], { vocabSize: 300 });
      // 'aaaa' once and ' aaaa' twice: (a,a) 9 times, then (aa,aa) 3 times, then (' ', aaaa) 2 times.
      assert.deepEqual(t.merges, [
        [97, 97],
        [260, 260],
        [32, 261],
      ]);
      assert.deepEqual(t.encode('aaaa aaaa'), [261, 262]);
    });

    it('breaks ties by the lowest pair ids', () => {
      const t = trainTokenizer(['abcd', 'abcd'], { vocabSize: 300 });
      assert.deepEqual(t.merges, [
        [97, 98],
        [99, 100],
        [260, 261],
      ]);
    });

    it('stops early when no pair reaches minFrequency', () => {
      const t = trainTokenizer(['abcd', 'abcd'], { vocabSize: 300, minFrequency: 3 });
      assert.equal(t.vocabSize, FIRST_MERGE_ID);
      assert.deepEqual(t.encode('abcd'), [97, 98, 99, 100]);
    });

    it('grows the vocabulary to exactly vocabSize when the corpus allows', () => {
      assert.equal(tok.vocabSize, 512);
      assert.equal(tok.merges.length, 512 - FIRST_MERGE_ID);
    });

    it('matches a from-scratch trainer that recounts every pair before each merge', () => {
      // Documents drawn from a few short random words, so pairs repeat with varied counts and merges overlap.
      const char = fc.constantFrom(...'aab b\n  (){};=_1é');
      const words = fc.array(fc.string({ unit: char, minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 });
      const picks = fc.array(fc.array(fc.nat(), { maxLength: 40 }), { maxLength: 5 });
      const corpus = fc.tuple(words, picks).map(([w, docs]) => docs.map((d) => d.map((i) => w[i % w.length]).join('')));
      fc.assert(
        fc.property(corpus, fc.integer({ min: 260, max: 320 }), (docs, vocabSize) => {
          const t = trainTokenizer(docs, { vocabSize });
          assert.deepEqual(t.merges, naiveMerges(docs, vocabSize));
        }),
        { numRuns: 150 },
      );
    });

    it('is deterministic and treats strings as their UTF-8 bytes', () => {
      const docs = UNICODE_LINES.map((l) => l.repeat(3));
      const a = trainTokenizer(docs, { vocabSize: 400 });
      const b = trainTokenizer(
        docs.map((d) => utf8.encode(d)),
        { vocabSize: 400 },
      );
      assert.deepEqual(a.merges, b.merges);
    });

    it('reports progress, ending with the number of merges learned', () => {
      const calls: [number, number][] = [];
      trainTokenizer([typescriptJs.subarray(0, 50_000)], {
        vocabSize: 400,
        onProgress: (m, total) => calls.push([m, total]),
      });
      assert.ok(calls.length >= 2);
      assert.deepEqual(calls[calls.length - 1], [140, 140]);
      assert.ok(calls.every(([m], i) => i === 0 || m >= calls[i - 1][0]));
    });

    it('rejects a vocabSize below 260 with BAD_VOCAB', () => {
      assertThrowsCode(() => trainTokenizer(['abc'], { vocabSize: 259 }), 'BAD_VOCAB', /259/);
      assertThrowsCode(() => trainTokenizer(['abc'], { vocabSize: 300.5 }), 'BAD_VOCAB');
      assert.equal(trainTokenizer(['abab'], { vocabSize: 260 }).vocabSize, 260);
    });
  });

  describe('encoding and decoding', () => {
    it('round-trips any byte sequence', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
          assert.deepEqual(tok.decode(tok.encode(bytes)), bytes);
        }),
        { numRuns: 500 },
      );
    });

    it('round-trips any well-formed unicode string', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
          assert.equal(tok.decodeText(tok.encode(s)), s);
        }),
        { numRuns: 500 },
      );
    });

    it('segments exactly as applying every merge in rank order would', () => {
      const code = fc
        .tuple(fc.nat(190_000), fc.nat(300))
        .map(([start, len]) => typescriptJs.subarray(start, start + len));
      fc.assert(
        fc.property(fc.oneof(code, fc.uint8Array({ maxLength: 100 })), (bytes) => {
          assert.deepEqual(tok.encode(bytes), naiveEncode(tok, bytes));
        }),
        { numRuns: 100 },
      );
    });

    it('round-trips slices of code with random bytes spliced in', () => {
      const code = fc
        .tuple(fc.nat(190_000), fc.nat(2_000), fc.uint8Array({ maxLength: 8 }), fc.nat(2_000))
        .map(([start, len, noise, at]) => {
          const slice = typescriptJs.subarray(start, start + len);
          const cut = Math.min(at, slice.length);
          return new Uint8Array(Buffer.concat([slice.subarray(0, cut), noise, slice.subarray(cut)]));
        });
      fc.assert(
        fc.property(code, (bytes) => {
          assert.deepEqual(tok.decode(tok.encode(bytes)), bytes);
        }),
        { numRuns: 200 },
      );
    });

    const byteCases: [string, Uint8Array][] = [
      ['empty input', new Uint8Array()],
      ['invalid UTF-8', Uint8Array.of(0xff, 0xfe, 0x80, 0x61, 0xc3, 0x28, 0xe2, 0x82, 0xed, 0xa0, 0x80, 0xf4, 0x90)],
      ['NUL bytes', Uint8Array.of(0, 0, 0x61, 0, 0x20, 0)],
      ['a truncated character at the end', utf8.encode('let é').subarray(0, 5)],
    ];
    for (const [name, bytes] of byteCases) {
      it(`round-trips ${name}`, () => {
        assert.deepEqual(tok.decode(tok.encode(bytes)), bytes);
      });
    }

    const textCases: [string, string][] = [
      ['emoji and ZWJ sequences', 'const emoji = "🚀🔥👍🏽👨‍👩‍👧";'],
      ['CRLF line ends', 'if (a) {\r\n    b();\r\n}\r\n'],
      ['tabs', '\tfoo(\t1,\t2);\n\t\t}'],
      ['a leading byte order mark', '\uFEFFexport const x = 1;'],
      ['NUL characters', 'a\u0000b\u0000'],
      ['long indentation', '\n' + ' '.repeat(300) + 'x'],
    ];
    for (const [name, s] of textCases) {
      it(`round-trips text with ${name}`, () => {
        assert.equal(tok.decodeText(tok.encode(s)), s);
      });
    }

    it('gives an empty array for empty input', () => {
      assert.deepEqual(tok.encode(''), []);
      assert.equal(tok.decodeText([]), '');
    });

    it('encodes a string and its UTF-8 bytes identically, with and without the cache', () => {
      const s = typescriptJs.subarray(300_000, 310_000).toString('utf8');
      const fresh = Tokenizer.fromJSON(tok.toJSON());
      assert.deepEqual(fresh.encode(utf8.encode(s)), tok.encode(s));
      assert.deepEqual(tok.encode(s), tok.encode(s));
    });

    it('rejects ids outside the vocabulary when decoding', () => {
      assertThrowsCode(() => tok.decode([97, 512]), 'BAD_TOKEN_ID', /512/);
      assertThrowsCode(() => tok.decode([-1]), 'BAD_TOKEN_ID');
      assertThrowsCode(() => tok.decode([1.5]), 'BAD_TOKEN_ID');
    });

    it('compresses held-out code to fewer tokens than bytes / 2.5 with a 1024 vocabulary', () => {
      const t = trainTokenizer([typescriptJs.subarray(0, 300_000)], { vocabSize: 1024 });
      const heldOut = typescriptJs.subarray(6_000_000, 6_200_000);
      const ids = t.encode(heldOut);
      // Measured: about 2.8 bytes per token on this slice.
      assert.ok(ids.length < heldOut.length / 2.5, `${heldOut.length / ids.length} bytes per token`);
    });
  });

  describe('special tokens', () => {
    it('has fixed ids 256..259 in the documented order', () => {
      assert.deepEqual(tok.specials, { endOfText: 256, fimPrefix: 257, fimMiddle: 258, fimSuffix: 259 });
    });

    it('never produces special ids from text, even the literal marker text', () => {
      const s = SPECIAL_TOKENS.join(' ') + '\n' + SPECIAL_TOKENS.join('');
      const ids = tok.encode(s);
      assert.ok(ids.every((id) => id < 256 || id >= FIRST_MERGE_ID));
      assert.equal(tok.decodeText(ids), s);
    });

    it('decodes each special id to its literal text', () => {
      const { endOfText, fimPrefix, fimMiddle, fimSuffix } = tok.specials;
      const ids = [fimPrefix, ...tok.encode('a'), fimSuffix, ...tok.encode('c'), fimMiddle, endOfText];
      assert.equal(tok.decodeText(ids), '<|fim_prefix|>a<|fim_suffix|>c<|fim_middle|><|endoftext|>');
      assert.equal(tok.tokenDisplay(endOfText), '<|endoftext|>');
    });
  });

  describe('token display', () => {
    it('makes whitespace visible and escapes invalid bytes', () => {
      const t = new Tokenizer([
        [32, 32], // 260 '  '
        [10, 260], // 261 '\n  '
        [9, 0xff], // 262 '\t\xff'
        [0xc3, 0xa9], // 263 'é'
        [13, 10], // 264 '\r\n'
      ]);
      assert.equal(t.tokenDisplay(261), '↵··');
      assert.equal(t.tokenDisplay(262), '→\\xFF');
      assert.equal(t.tokenDisplay(263), 'é');
      assert.equal(t.tokenDisplay(0xc3), '\\xC3');
      assert.equal(t.tokenDisplay(264), '␍↵');
      assert.equal(t.tokenDisplay(0), '\\x00');
      assert.equal(t.tokenDisplay(97), 'a');
      assert.deepEqual(t.tokenBytes(262), Uint8Array.of(9, 0xff));
    });
  });

  describe('serialization', () => {
    it('gives identical encodings after toJSON / fromJSON through JSON text', () => {
      const copy = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
      assert.equal(copy.vocabSize, tok.vocabSize);
      assert.deepEqual(copy.toJSON(), tok.toJSON());
      const sample = typescriptJs.subarray(500_000, 520_000);
      assert.deepEqual(copy.encode(sample), tok.encode(sample));
    });

    const good = (): Record<string, unknown> => JSON.parse(JSON.stringify(tok.toJSON())) as Record<string, unknown>;
    const corrupt: [string, (j: Record<string, unknown>) => unknown, RegExp][] = [
      ['not an object', () => 'tokenizer', /object/],
      ['null', () => null, /object/],
      ['the wrong format', (j) => ({ ...j, format: 'hf-tokenizers' }), /format/],
      ['an unknown version', (j) => ({ ...j, version: 2 }), /version 2/],
      ['an unknown pre-tokenizer', (j) => ({ ...j, pretokenizer: 'gpt4' }), /pretokenizer/],
      ['changed specials', (j) => ({ ...j, specials: ['<|endoftext|>'] }), /specials/],
      ['merges that are not an array', (j) => ({ ...j, merges: {} }), /merges/],
      ['a merge that is not a pair', (j) => ({ ...j, merges: [[97, 98, 99]] }), /merge 0/],
      ['a merge with a non-integer id', (j) => ({ ...j, merges: [[97, '98']] }), /merge 0/],
      [
        'a merge of an id that does not exist yet',
        (j) => ({ ...j, vocabSize: 261, merges: [[97, 260]] }),
        /merge 0 .*260/,
      ],
      ['a merge of a special token', (j) => ({ ...j, vocabSize: 261, merges: [[256, 97]] }), /256/],
      ['a merge of a negative id', (j) => ({ ...j, vocabSize: 261, merges: [[-1, 97]] }), /-1/],
      [
        'a repeated merge',
        (j) => ({
          ...j,
          vocabSize: 262,
          merges: [
            [97, 98],
            [97, 98],
          ],
        }),
        /repeats/,
      ],
      ['a vocabSize that disagrees with the merges', (j) => ({ ...j, vocabSize: 9999 }), /vocabSize is 9999/],
      ['a missing vocabSize', (j) => ({ ...j, vocabSize: undefined }), /vocabSize/],
    ];
    for (const [name, mutate, message] of corrupt) {
      it(`rejects ${name} with BAD_TOKENIZER`, () => {
        assertThrowsCode(() => Tokenizer.fromJSON(mutate(good())), 'BAD_TOKENIZER', message);
      });
    }
  });
});
