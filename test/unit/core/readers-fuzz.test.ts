import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  decodeSafetensors,
  encodeSafetensors,
  NamedTensors,
  readHistory,
  readJsonLines,
  TensorData,
} from '../../../src/core/checkpoint';
import { parseExample } from '../../../src/core/data/examples';
import { parseRecords } from '../../../src/core/data/jsonl';
import { parsePreference } from '../../../src/core/data/preferences';
import { GptLabError } from '../../../src/core/errors';
import { SPECIAL_TOKENS, Tokenizer } from '../../../src/core/tokenizer';

/**
 * Property tests of the readers of untrusted files (checkpoints, examples, preferences, history, tokenizers):
 * whatever the bytes, a clear GptLabError or a consistent result — never another exception, a hang or a huge
 * allocation. The hand-written cases of checkpoint.test.ts and tokenizer.test.ts name the individual damages.
 */

/** Runs `fn`; it must return, or throw a GptLabError of `code`. */
function cleanly<T>(code: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    assert.ok(e instanceof GptLabError, `not a GptLabError: ${(e as Error)?.stack ?? String(e)}`);
    assert.equal(e.code, code, e.message);
    return undefined;
  }
}

/** A decoded file is self-consistent: each tensor holds exactly the elements its shape says. */
function assertConsistent(tensors: NamedTensors): void {
  for (const [name, t] of tensors) {
    assert.ok(t.dtype === 'F32' || t.dtype === 'I32', name);
    assert.equal(
      t.data.length,
      t.shape.reduce((a, b) => a * b, 1),
      name,
    );
  }
}

const tensorArb: fc.Arbitrary<TensorData> = fc
  .tuple(fc.constantFrom<'F32' | 'I32'>('F32', 'I32'), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return dtype === 'F32'
      ? fc.float32Array({ minLength: n, maxLength: n }).map((data) => ({ dtype, shape, data }) as TensorData)
      : fc.int32Array({ minLength: n, maxLength: n }).map((data) => ({ dtype, shape, data }) as TensorData);
  });
const fileArb = fc
  .dictionary(fc.string({ minLength: 1, maxLength: 12 }), tensorArb, { minKeys: 1, maxKeys: 4 })
  .filter((d) => !('__metadata__' in d))
  .map((d) => encodeSafetensors(new Map(Object.entries(d)), { format: 'pt' }));

/** A safetensors file whose header is `header` (any JSON) followed by `data` bytes. */
function withHeader(header: unknown, dataBytes: number): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('fuzz: safetensors reader', () => {
  it('random bytes: BAD_CHECKPOINT or a consistent file', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = cleanly('BAD_CHECKPOINT', () => decodeSafetensors(bytes, 'x.safetensors'));
        if (r) assertConsistent(r.tensors);
      }),
      { numRuns: 2000 },
    );
  });

  it('any valid file round-trips; every truncation is BAD_CHECKPOINT', () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), (bytes, cut) => {
        assertConsistent(decodeSafetensors(bytes, 'x.safetensors').tensors);
        const at = cut % bytes.length;
        assert.equal(
          cleanly('BAD_CHECKPOINT', () => decodeSafetensors(bytes.subarray(0, at), 'x.safetensors')),
          undefined,
        );
      }),
      { numRuns: 400 },
    );
  });

  it('one flipped byte anywhere: BAD_CHECKPOINT or a consistent file', () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (bytes, at, xor) => {
        const copy = Uint8Array.from(bytes);
        copy[at % copy.length] ^= xor;
        const r = cleanly('BAD_CHECKPOINT', () => decodeSafetensors(copy, 'x.safetensors'));
        if (r) assertConsistent(r.tensors);
      }),
      { numRuns: 1000 },
    );
  });

  it('an oversized header length (up to 2^64-1) is refused before anything is allocated', () => {
    fc.assert(
      fc.property(fileArb, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (bytes, n) => {
        const copy = Uint8Array.from(bytes);
        new DataView(copy.buffer).setBigUint64(0, n, true);
        const r = cleanly('BAD_CHECKPOINT', () => decodeSafetensors(copy, 'x.safetensors'));
        if (r) assertConsistent(r.tensors);
      }),
      { numRuns: 500 },
    );
  });

  it('headers with wrong dtypes, shapes and offsets past the end: BAD_CHECKPOINT or consistent', () => {
    const entry = fc.record(
      {
        dtype: fc.oneof(fc.constantFrom('F32', 'I32', 'F16', 'BF16', 'I64', 'F64', 'U8', 'f32', ''), fc.anything()),
        shape: fc.oneof(
          fc.array(fc.oneof(fc.integer({ min: -2, max: 8 }), fc.constantFrom(2 ** 31, 2 ** 53, 1e308, -0, 0.5)), {
            maxLength: 4,
          }),
          fc.anything(),
        ),
        data_offsets: fc.oneof(
          fc.tuple(fc.integer({ min: -4, max: 64 }), fc.integer({ min: -4, max: 64 })),
          fc.tuple(fc.constantFrom(0, 2 ** 53, 2 ** 60, 1e300), fc.constantFrom(2 ** 53 + 2, 2 ** 62, Infinity)),
          fc.anything(),
        ),
      },
      { requiredKeys: [] },
    );
    const header = fc.dictionary(
      fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__metadata__', '__proto__', 'constructor')),
      fc.oneof(entry, fc.anything()),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(header, fc.integer({ min: 0, max: 64 }), (h, dataBytes) => {
        const r = cleanly('BAD_CHECKPOINT', () => decodeSafetensors(withHeader(h, dataBytes), 'x.safetensors'));
        if (r) assertConsistent(r.tensors);
      }),
      { numRuns: 2000 },
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('fuzz: JSON Lines readers (examples, preferences, history)', () => {
  const lineArb = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.json(),
    fc.record({ prompt: fc.anything(), completion: fc.anything() }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
    fc.record({ prompt: fc.string(), chosen: fc.string(), rejected: fc.anything() }).map((o) => JSON.stringify(o)),
    fc.constantFrom(
      '{"prompt":"a","completion":"b","__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}},"prompt":"a","completion":"b"}',
      '\r',
      '\uFEFF{"prompt":"a","completion":"b"}',
      '['.repeat(20_000),
      '{"step":1e400}',
    ),
  );
  const textArb = fc.array(lineArb, { maxLength: 12 }).map((lines) => lines.join('\n'));

  const parsers: [string, (v: unknown) => object | string][] = [
    ['examples', parseExample],
    ['preferences', parsePreference],
  ];
  for (const [name, parse] of parsers) {
    it(`${name}: every non-blank line is a record or a problem with its line number; never a throw`, () => {
      fc.assert(
        fc.property(textArb, (text) => {
          const { records, problems } = parseRecords(text, parse);
          const lines = text.split('\n');
          const nonBlank = lines.filter((l) => l.replace(/\r$/, '').trim() !== '').length;
          assert.equal(records.length + problems.length, nonBlank);
          for (const p of problems) {
            assert.ok(Number.isInteger(p.line) && p.line >= 1 && p.line <= lines.length);
            assert.ok(typeof p.message === 'string' && p.message.length > 0 && p.message.length < 500);
          }
          for (let i = 1; i < problems.length; i++) assert.ok(problems[i].line > problems[i - 1].line);
          for (const r of records) {
            assert.equal(Object.getPrototypeOf(r), Object.prototype);
            assert.equal(typeof (r as { prompt: unknown }).prompt, 'string');
          }
          assert.equal(({} as Record<string, unknown>).polluted, undefined);
        }),
        { numRuns: 400 },
      );
    });
  }

  it('history.jsonl and any JSONL file of random bytes (invalid UTF-8 too): objects only, warnings, no throw', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-fuzz-jsonl-'));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          textArb.map((t) => Buffer.from(t)),
        ),
        async (bytes) => {
          await fs.writeFile(path.join(dir, 'history.jsonl'), bytes);
          const lines = await readJsonLines(path.join(dir, 'history.jsonl'));
          assert.ok(Array.isArray(lines.records) && Array.isArray(lines.warnings));
          const { records, warnings } = await readHistory(dir);
          for (const r of records) assert.ok(typeof r === 'object' && r !== null && !Array.isArray(r));
          assert.ok(warnings.every((w) => typeof w === 'string'));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fuzz: tokenizer.json', () => {
  const good = {
    format: 'gpt-lab-bpe',
    version: 1,
    pretokenizer: 'code-v1',
    specials: [...SPECIAL_TOKENS],
  };
  it('any list of merges: BAD_TOKENIZER, or a tokenizer that round-trips any bytes', () => {
    const merges = fc.array(
      fc.oneof(
        fc.tuple(fc.integer({ min: -2, max: 270 }), fc.integer({ min: -2, max: 270 })),
        fc.anything(),
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 3 }),
      ),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(merges, fc.boolean(), fc.uint8Array({ maxLength: 60 }), (m, rightSize, bytes) => {
        const json = { ...good, merges: m, vocabSize: rightSize ? 260 + m.length : 260 + m.length + 1 };
        const tok = cleanly('BAD_TOKENIZER', () => Tokenizer.fromJSON(json));
        if (!tok) return;
        assert.deepEqual(tok.decode(tok.encode(bytes)), bytes);
      }),
      { numRuns: 1500 },
    );
  });

  it('any JSON value at all: BAD_TOKENIZER or a tokenizer', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({ merges: fc.anything(), vocabSize: fc.anything() }).map((o) => ({ ...good, ...o })),
        ),
        (v) => {
          cleanly('BAD_TOKENIZER', () => Tokenizer.fromJSON(v));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
