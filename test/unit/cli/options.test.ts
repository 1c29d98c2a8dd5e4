import { strict as assert } from 'node:assert';
import * as fsModule from 'node:fs';
import * as path from 'node:path';
import { trainPlan, TrainCliOptions } from '../../../src/cli/train';
import { corpusDir, runCli, TINY_ALL, tmpDir } from './run';

const base: TrainCliOptions = { backend: 'wasm' };

describe('gpt-lab train options', function () {
  this.timeout(120_000);
  let corpus: string;
  before(async () => {
    corpus = await corpusDir();
  });

  for (const [flag, value] of [
    ['--batch', '2.5'],
    ['--steps', '0'],
    ['--layers', '-1'],
    ['--heads', '1.5'],
    ['--embd', 'abc'],
    ['--context', '0'],
    ['--vocab', '3e2.5'],
    ['--seed', '-1'],
    ['--minutes', '0'],
    ['--fim', '2'],
  ]) {
    it(`refuses ${flag} ${value} with BAD_OPTION`, async () => {
      const r = await runCli([
        'train',
        corpus,
        ...TINY_ALL,
        flag,
        value,
        '--out',
        path.join(await tmpDir(), 'm'),
        '--json',
      ]);
      assert.equal(r.code, 1);
      assert.equal(r.events.at(-1)?.event, 'error');
      assert.equal(r.events.at(-1)?.code, 'BAD_OPTION', r.stdout);
      assert.match(String(r.events.at(-1)?.message), new RegExp(flag));
    });
  }

  it('refuses a model too big for memory before building it, naming the options to lower', async () => {
    for (const [args, flag] of [
      [['--embd', '8192', '--heads', '1'], '--embd'],
      [['--context', '100000'], '--context'],
    ] as const) {
      const t0 = Date.now();
      const r = await runCli([
        'train',
        corpus,
        '--steps',
        '3',
        '--backend',
        'wasm',
        ...args,
        '--out',
        path.join(await tmpDir(), 'm'),
        '--json',
      ]);
      assert.equal(r.events.at(-1)?.code, 'TOO_BIG', r.stdout);
      assert.match(String(r.events.at(-1)?.message), new RegExp(`${flag} \\d+ → at most \\d+`));
      assert.ok(Date.now() - t0 < 10_000, 'took too long to refuse');
    }
  });

  it('refuses options that cannot change on resume, naming them', async () => {
    const r = await runCli(['train', corpus, '--resume', '--layers', '3', '--seed', '1', '--lr', '0.001', '--json']);
    assert.equal(r.events.at(-1)?.code, 'BAD_OPTION');
    assert.match(String(r.events.at(-1)?.message), /--layers, --seed cannot change when resuming/);
    assert.throws(() => trainPlan({ ...base, resume: true, preset: 'small' }), /--preset/);
    assert.throws(() => trainPlan({ ...base, resume: true, force: true }), /--force/);
  });

  it('resumes with the budget given (more) or none (the saved one), and a new learning rate', () => {
    const none = trainPlan({ ...base, resume: true });
    assert.equal(none.resume, true);
    assert.equal(none.config.maxSteps, undefined);
    assert.equal(none.config.maxMinutes, undefined);
    assert.equal(none.resumeOverrides, undefined);
    const more = trainPlan({ ...base, resume: true, steps: '30', lr: '0.0005' });
    assert.equal(more.config.maxSteps, 30);
    assert.equal(more.config.maxMinutes, undefined);
    assert.deepEqual(more.resumeOverrides, { learningRate: 0.0005 });
    assert.equal(trainPlan({ ...base, resume: true, minutes: '0.3' }).config.maxMinutes, 0.3);
  });

  it('ends every --json failure in an error event with a code, unexpected ones as INTERNAL', async () => {
    const unknown = await runCli(['train', corpus, '--bogus', '--json']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.events.at(-1)?.code, 'BAD_OPTION');

    const stat = fsModule.promises.stat;
    fsModule.promises.stat = (async () => {
      throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    }) as typeof stat;
    let r;
    try {
      r = await runCli(['train', corpus, ...TINY_ALL, '--json']);
    } finally {
      fsModule.promises.stat = stat;
    }
    assert.equal(r.code, 1);
    assert.deepEqual(
      { event: r.events.at(-1)?.event, code: r.events.at(-1)?.code },
      { event: 'error', code: 'INTERNAL' },
    );
    assert.match(String(r.events.at(-1)?.message), /EIO/);
  });

  it('resumed with --steps trains that many more steps', async () => {
    const m = path.join(await tmpDir(), 'model');
    assert.equal((await runCli(['train', corpus, ...TINY_ALL, '--out', m])).code, 0);
    const r = await runCli(['train', corpus, '--resume', '--steps', '2', '--backend', 'wasm', '--out', m, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.events.find((e) => e.event === 'done')?.step, 4);
  });
});
