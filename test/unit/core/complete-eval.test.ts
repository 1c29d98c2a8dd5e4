import { strict as assert } from 'node:assert';
import { evaluateCompletions } from '../../../src/core/complete';

const FILES = [
  { path: 'a.ts', text: 'export function add(a: number, b: number): number {\n  return a + b;\n}\n' },
  { path: 'b.py', text: 'def greet(name):\n    print("hi", name)\n\n\n    \nclass Point:\n    x = 0\n' },
  { path: 'c.ts', text: 'const total = items\r\n  .map((x) => x.price)\r\n  .reduce((s, p) => s + p, 0);\r\n' },
];

/** The true middle: what lies between the prefix and the suffix in the file they came from. */
function oracle(prefix: string, suffix: string): string {
  const f = FILES.find((f) => f.text.startsWith(prefix) && f.text.endsWith(suffix));
  assert.ok(f, 'prefix and suffix come from one file');
  return f.text.slice(prefix.length, f.text.length - suffix.length);
}

describe('completion evaluation', () => {
  it('scores an oracle perfectly, asking at sensible cursors with the file after the line as suffix', async () => {
    const seen: [string, string][] = [];
    const r = await evaluateCompletions(
      (p, s) => {
        seen.push([p, s]);
        return oracle(p, s);
      },
      FILES,
      { positions: 20, seed: 1 },
    );
    assert.equal(r.positions, 20);
    assert.equal(r.exactMatch, 1);
    assert.equal(r.charsSaved, 1);
    assert.equal(r.shown, 1);
    for (const [p, s] of seen) {
      const middle = oracle(p, s);
      assert.ok(s === '' || /^\r?\n/.test(s), 'the suffix starts at the line break');
      assert.ok(
        middle.trim() !== '' && !middle.includes('\n') && !middle.includes('\r'),
        'inside a line, not at its end',
      );
      const before = p.slice(p.lastIndexOf('\n') + 1);
      assert.ok(before.trim() === '' || /[\w$ \t]$/.test(before), `a token-ish boundary: ${JSON.stringify(before)}`);
      assert.ok(/\S/.test(middle[0]) || before.trim() !== '', 'not inside the indentation');
    }
    assert.equal(r.examples.length, 5);
    for (const e of r.examples) {
      assert.equal(e.expected, e.suggested);
      assert.ok(e.prefix.length <= 40 && e.line >= 1 && FILES.some((f) => f.path === e.path));
      assert.ok(!e.expected.includes('\r'));
    }
  });

  it('counts empty suggestions as not shown', async () => {
    const r = await evaluateCompletions(() => '', FILES, { positions: 10, seed: 2 });
    assert.deepEqual([r.positions, r.exactMatch, r.charsSaved, r.shown], [10, 0, 0, 0]);
  });

  it('credits only the characters a user would accept', async () => {
    // The first half of the real rest of the line: accepted, not exact (unless one character long).
    const half = await evaluateCompletions(
      (p, s) => {
        const m = oracle(p, s).trimEnd();
        return m.slice(0, Math.ceil(m.length / 2));
      },
      FILES,
      { positions: 30, seed: 3 },
    );
    assert.ok(half.charsSaved > 0.45 && half.charsSaved < 0.8, String(half.charsSaved));
    assert.ok(half.exactMatch < 0.5);
    assert.equal(half.shown, 1);
    // A wrong ending spoils the whole suggestion; only its first line counts.
    const wrong = await evaluateCompletions((p, s) => oracle(p, s).trimEnd() + 'zz', FILES, { positions: 30, seed: 3 });
    assert.deepEqual([wrong.charsSaved, wrong.exactMatch], [0, 0]);
    const twoLines = await evaluateCompletions((p, s) => oracle(p, s) + '\nmore();', FILES, { positions: 30, seed: 3 });
    assert.deepEqual([twoLines.charsSaved, twoLines.exactMatch], [1, 1]);
  });

  it('is deterministic for a seed and samples differently for another', async () => {
    const run = async (seed: number) => {
      const calls: string[] = [];
      await evaluateCompletions((p) => (calls.push(p), ''), FILES, { positions: 8, seed });
      return calls;
    };
    assert.deepEqual(await run(7), await run(7));
    assert.notDeepEqual(await run(7), await run(8));
  });

  it('tries every candidate once when asked for more, and copes with nothing to try', async () => {
    const calls = new Set<string>();
    const all = await evaluateCompletions((p, s) => (calls.add(`${p}|${s}`), ''), FILES, {
      positions: 10_000,
      seed: 1,
    });
    assert.ok(all.positions > 50 && all.positions < 10_000);
    assert.equal(calls.size, all.positions);
    const none = await evaluateCompletions(() => 'x', [{ path: 'e', text: '\n  \n' }], { positions: 5, seed: 1 });
    assert.deepEqual(none, { positions: 0, exactMatch: 0, charsSaved: 0, shown: 0, examples: [] });
  });

  it('asks at the start of the text of a line and after identifier characters or spaces, never at its end', async () => {
    const text = '  ab = c(d);  \n\n';
    const asked: string[] = [];
    await evaluateCompletions(
      (p, s) => (asked.push(text.slice(p.length, text.length - s.length)), ''),
      [{ path: 'x', text }],
      {
        positions: 100,
        seed: 1,
      },
    );
    assert.deepEqual(asked, ['ab = c(d);  ', 'b = c(d);  ', ' = c(d);  ', '= c(d);  ', 'c(d);  ', '(d);  ', ');  ']);
  });

  it('awaits an asynchronous completion function', async () => {
    const r = await evaluateCompletions(async (p, s) => oracle(p, s), FILES, { positions: 5, seed: 4 });
    assert.equal(r.exactMatch, 1);
  });
});
