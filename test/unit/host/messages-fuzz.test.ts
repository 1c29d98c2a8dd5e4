import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { parseInspectorOutbound, parseStepperOutbound } from '../../../src/protocol/inspect';
import { parseAlignOutbound, parseRankOutbound } from '../../../src/protocol/rank';
import { parseLossPanelOutbound } from '../../../src/host/panels/lossMessages';

/**
 * Every message a webview sends is untrusted. Each panel's validator (the only door to its handler) must return a
 * well-formed message or undefined for anything — wrong types, huge arrays, prototype-pollution keys — quickly,
 * and pass on only the fields the protocol names.
 */
const validators: [string, (m: unknown) => unknown, Record<string, string[]>][] = [
  ['training panel', parseLossPanelOutbound, { ready: [], command: ['command'] }],
  [
    'inspector',
    parseInspectorOutbound,
    { ready: [], drawn: [], hover: ['token', 'layer', 'head'], export: ['format', 'data'] },
  ],
  ['stepper', parseStepperOutbound, { ready: [], undo: [], reset: [], choose: ['token'] }],
  ['ranking board', parseRankOutbound, { ready: [], skip: [], again: [], submit: ['completions', 'ranks', 'edited'] }],
  [
    'alignment panel',
    parseAlignOutbound,
    { ready: [], compare: ['version', 'reward'], judged: ['version', 'after', 'before', 'ties'], resume: ['version'] },
  ],
];

const TYPES = [
  'ready',
  'drawn',
  'hover',
  'export',
  'undo',
  'reset',
  'choose',
  'command',
  'submit',
  'skip',
  'again',
  'compare',
  'judged',
  'resume',
];
const KEYS = [
  'type',
  'token',
  'layer',
  'head',
  'format',
  'data',
  'command',
  'completions',
  'ranks',
  'edited',
  'version',
  'reward',
  'after',
  'before',
  'ties',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
];

/** Messages near the real ones: a known type, known field names, values of any kind. */
const nearMessage = fc
  .dictionary(
    fc.constantFrom(...KEYS),
    fc.oneof(
      fc.constantFrom(...TYPES),
      fc.anything(),
      fc.array(fc.oneof(fc.integer(), fc.string(), fc.boolean()), { maxLength: 12 }),
    ),
    { maxKeys: 6 },
  )
  .map((o) => ({ type: o.type ?? 'submit', ...o }));
/** The same, built with JSON.parse so `__proto__` is an own key, as structured clone delivers it. */
const withProtoKeys = fc
  .tuple(fc.constantFrom(...TYPES), fc.anything())
  .map(([type, v]) =>
    JSON.parse(
      `{"type":${JSON.stringify(type)},"__proto__":{"polluted":true,"type":"ready"},"constructor":{"prototype":{"polluted":true}},"token":1,"layer":0,"head":0,"x":${JSON.stringify(v) ?? 'null'}}`,
    ),
  );

function checkResult(name: string, fields: Record<string, string[]>, r: unknown): void {
  if (r === undefined) return;
  assert.ok(typeof r === 'object' && r !== null, `${name}: ${String(r)}`);
  assert.equal(Object.getPrototypeOf(r), Object.prototype, `${name}: odd prototype`);
  const { type, ...rest } = r as Record<string, unknown>;
  assert.ok(typeof type === 'string' && Object.hasOwn(fields, type), `${name}: type ${String(type)}`);
  for (const k of Object.keys(rest)) assert.ok(fields[type].includes(k), `${name}: passed on an extra field '${k}'`);
}

describe('webview messages: every validator, any input', () => {
  const huge = Array.from({ length: 1_000_000 }, (_, i) => i % 3);
  const hugeStrings = huge.map(String);
  const big = 'x'.repeat(60_000_000);
  afterEach(() => {
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
  });

  for (const [name, parse, fields] of validators) {
    describe(name, () => {
      it('anything at all: a message with only the protocol fields, or undefined; never a throw', () => {
        fc.assert(
          fc.property(
            fc.oneof(
              fc.anything({
                withNullPrototype: true,
                withBigInt: true,
                withMap: true,
                withSet: true,
                withTypedArray: true,
                withSparseArray: true,
              }),
              nearMessage,
              withProtoKeys,
            ),
            (m) => {
              checkResult(name, fields, parse(m));
            },
          ),
          { numRuns: 1500 },
        );
      });

      it('huge arrays and strings are refused or passed without a hang', function () {
        this.timeout(60_000);
        const t0 = performance.now();
        for (const type of Object.keys(fields)) {
          for (const v of [huge, big, hugeStrings]) {
            const m: Record<string, unknown> = { type };
            for (const f of fields[type]) m[f] = v;
            checkResult(name, fields, parse(m));
          }
        }
        assert.ok(performance.now() - t0 < 10_000, `took ${performance.now() - t0} ms`);
      });
    });
  }

  it('accepts the real messages (so the properties above are not vacuous)', () => {
    assert.deepEqual(parseInspectorOutbound({ type: 'hover', token: 3, layer: 0, head: 'mean', extra: [1] }), {
      type: 'hover',
      token: 3,
      layer: 0,
      head: 'mean',
    });
    assert.deepEqual(parseStepperOutbound({ type: 'choose', token: 7 }), { type: 'choose', token: 7 });
    assert.deepEqual(parseLossPanelOutbound({ type: 'command', command: 'stop' }), {
      type: 'command',
      command: 'stop',
    });
    assert.equal(
      parseRankOutbound({ type: 'submit', completions: ['a', 'b'], ranks: [1, 0], edited: [false, false] })?.type,
      'submit',
    );
    assert.equal(parseAlignOutbound({ type: 'compare', version: 'dpo-1' })?.type, 'compare');
    assert.equal(parseAlignOutbound({ type: 'compare', version: '../../etc' }), undefined);
  });
});
