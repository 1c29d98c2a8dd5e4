import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  appendExample,
  exportExamples,
  importExamples,
  readExamples,
  SftExample,
} from '../../../src/core/data/examples';

const tmpDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-examples-'));

describe('SFT examples (JSONL)', () => {
  it('round-trips examples through append, export and import, unicode and newlines included', async () => {
    const dir = await tmpDir();
    const file = path.join(dir, 'examples.jsonl');
    const examples: SftExample[] = [
      { prompt: '// add\n', completion: 'return a + b;\n', source: 'manual' },
      { prompt: 'def f():\n    """ünï 🚀"""\n', completion: '    pass', suffix: '\n\nx = 1', source: 'accepted' },
    ];
    for (const e of examples) await appendExample(file, e);
    const { records, problems } = await readExamples(file);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      records.map(({ time, ...r }) => (assert.ok(time), r)),
      examples,
    );
    const out = path.join(dir, 'export.jsonl');
    assert.equal(await exportExamples(file, out), 2);
    const again = path.join(dir, 'again.jsonl');
    const r = await importExamples(again, out);
    assert.equal(r.added, 2);
    assert.deepEqual(
      (await readExamples(again)).records.map((e) => [e.prompt, e.completion, e.suffix]),
      examples.map((e) => [e.prompt, e.completion, e.suffix]),
    );
  });

  it('reports each malformed line with its number and keeps the rest', async () => {
    const dir = await tmpDir();
    const from = path.join(dir, 'in.jsonl');
    await fs.writeFile(
      from,
      [
        '{"prompt": "a", "completion": "b"}',
        'not json',
        '',
        '{"prompt": 1, "completion": "b"}',
        '["prompt", "completion"]',
        '{"prompt": "a", "completion": ""}',
        '{"prompt": "c", "completion": "d", "__proto__": {"polluted": true}}',
      ].join('\n'),
    );
    const r = await importExamples(path.join(dir, 'examples.jsonl'), from);
    assert.equal(r.added, 2);
    assert.deepEqual(
      r.problems.map((p) => p.line),
      [2, 4, 5, 6],
    );
    assert.match(r.problems[1].message, /prompt/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('loses, tears or duplicates no acknowledged line when the writer is killed mid-append, again and again', async function () {
    this.timeout(120_000);
    const dir = await tmpDir();
    const file = path.join(dir, 'examples.jsonl');
    const module = path.resolve(__dirname, '../../../src/core/data/examples.js');
    // The child appends numbered examples and prints each number once its append has returned.
    const script = `
      const { appendExample } = require(${JSON.stringify(module)});
      const start = Number(process.argv[1]);
      (async () => {
        for (let i = start; ; i++) {
          await appendExample(${JSON.stringify(file)}, { prompt: 'p' + i, completion: 'x'.repeat(2000 + (i % 7) * 500) + i });
          process.stdout.write(i + '\\n');
        }
      })();`;
    const acknowledged: number[] = [];
    let next = 0;
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, ['-e', script, String(next)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      // Kill at a random moment once it is appending (module loading takes a while).
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d) => {
          if (!out) setTimeout(resolve, Math.random() * 150);
          out += d;
        });
        child.on('exit', () => resolve());
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const acked = out
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number);
      acknowledged.push(...acked);
      next = (acked.length ? acked[acked.length - 1] : next) + 1000; // fresh numbers: a duplicate would show
    }
    assert.ok(acknowledged.length > 20, `only ${acknowledged.length} appends acknowledged`);
    const { records, problems } = await readExamples(file);
    const seen = records.map((r) => Number(r.prompt.slice(1)));
    assert.equal(new Set(seen).size, seen.length, 'a line was duplicated');
    for (const i of acknowledged) assert.ok(seen.includes(i), `acknowledged example ${i} was lost`);
    for (const r of records) assert.ok(r.completion.endsWith(r.prompt.slice(1)), 'a line was torn');
    // Only an append the writer never acknowledged may be cut short (and is then reported, not read).
    assert.ok(problems.length <= 12, JSON.stringify(problems));
  });
});
