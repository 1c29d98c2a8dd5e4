import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readVersion } from '../../../src/core/versions';
import { runCli } from './run';
import { tinyBase } from './tinyBase';

describe('gpt-lab finetune', function () {
  this.timeout(120_000);
  let root: string;
  let base: string;
  let data: string;
  before(async () => {
    ({ root, base } = await tinyBase());
    data = path.join(root, 'examples.jsonl');
    await fs.writeFile(
      data,
      [
        JSON.stringify({ prompt: '// add\n', completion: 'return a + b;' }),
        '{"prompt": "x"}',
        JSON.stringify({ prompt: '// one\n', completion: 'const one = 1;' }),
      ].join('\n') + '\n',
    );
  });

  it('writes a new version beside its parent, reports skipped lines and ends in done with the before/after table', async () => {
    const r = await runCli(['finetune', '--model', base, '--data', data, '--steps', '3', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const dataEvent = r.events.find((e) => e.event === 'data')!;
    assert.equal(dataEvent.examples, 2);
    assert.deepEqual(
      (dataEvent.problems as { line: number }[]).map((p) => p.line),
      [2],
    );
    const done = r.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.equal(done.step, 3);
    assert.equal(done.outDir, path.join(root, 'sft-1'));
    const cmp = done.comparison as { rows: unknown[]; child: { tokenAccuracy: number } };
    assert.equal(cmp.rows.length, 2);
    assert.equal(typeof cmp.child.tokenAccuracy, 'number');
    const v = await readVersion(path.join(root, 'sft-1'));
    assert.equal(v.stage, 'sft');
    assert.equal(v.parent, 'base');
    assert.equal(v.data?.examples, 2);
    // The CLI's other commands take the new version like any model folder.
    const s = await runCli([
      'sample',
      '--model',
      path.join(root, 'sft-1'),
      '--prompt',
      '// add\n',
      '--max-tokens',
      '3',
    ]);
    assert.equal(s.code, 0, s.stderr);
  });

  it('refuses to replace a version without --force, resumes with more steps, and never writes the parent', async () => {
    const out = path.join(root, 'mine');
    const first = await runCli(['finetune', '--model', base, '--data', data, '--steps', '2', '--out', out]);
    assert.equal(first.code, 0, first.stderr);
    const again = await runCli(['finetune', '--model', base, '--data', data, '--steps', '2', '--out', out, '--json']);
    assert.equal(again.events.at(-1)?.code, 'MODEL_EXISTS');
    const more = await runCli([
      'finetune',
      '--model',
      base,
      '--data',
      data,
      '--steps',
      '2',
      '--out',
      out,
      '--resume',
      '--json',
    ]);
    assert.equal(more.events.at(-1)?.step, 4, more.stderr);
    const over = await runCli(['finetune', '--model', base, '--data', data, '--steps', '1', '--out', base, '--json']);
    assert.equal(over.code, 1);
    assert.equal((await readVersion(base)).stage, 'pretrain');
  });
});
