import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { acquireFolderLock } from '../../../src/core/checkpoint';
import { corpusDir, runCli, TINY_ALL, tmpDir } from './run';

describe('gpt-lab train --out', function () {
  this.timeout(120_000);
  let corpus: string;
  before(async () => {
    corpus = await corpusDir();
  });

  it('refuses a folder that is not a model folder and leaves its files alone', async () => {
    const u = await tmpDir();
    await fs.writeFile(path.join(u, 'config.json'), '{"port":8080}');
    await fs.writeFile(path.join(u, 'history.jsonl'), 'mine\n');
    const r = await runCli(['train', corpus, ...TINY_ALL, '--out', u, '--json']);
    assert.equal(r.code, 1);
    assert.equal(r.events.at(-1)?.code, 'OUT_NOT_MODEL_FOLDER', r.stdout);
    assert.match(String(r.events.at(-1)?.message), /not a GPT Lab model folder.*config\.json/);
    assert.equal(await fs.readFile(path.join(u, 'config.json'), 'utf8'), '{"port":8080}');
    assert.equal(await fs.readFile(path.join(u, 'history.jsonl'), 'utf8'), 'mine\n');
    assert.deepEqual((await fs.readdir(u)).sort(), ['config.json', 'history.jsonl']);
  });

  it('says a file given as --out is not a folder (not ENOTDIR)', async () => {
    const f = path.join(await tmpDir(), 'model');
    await fs.writeFile(f, 'x');
    const r = await runCli(['train', corpus, ...TINY_ALL, '--out', f, '--json']);
    assert.equal(r.events.at(-1)?.code, 'OUT_NOT_A_FOLDER');
    const below = await runCli(['train', corpus, ...TINY_ALL, '--out', path.join(f, 'm'), '--json']);
    assert.equal(below.events.at(-1)?.code, 'OUT_NOT_A_FOLDER');
  });

  it('refuses to replace a trained model without --force; --force starts a clean history', async () => {
    const m = path.join(await tmpDir(), 'model');
    const first = await runCli(['train', corpus, ...TINY_ALL, '--out', m]);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(existsSync(path.join(m, 'completion-eval.json')));
    assert.match(first.stderr + first.stdout, /held-out: \d+\.\d{3} bits\/byte on every held-out token \(\d+\)/);
    const stamp = await fs.readFile(path.join(m, 'state.json'), 'utf8');

    const again = await runCli(['train', corpus, ...TINY_ALL, '--out', m, '--json']);
    assert.equal(again.code, 1);
    assert.equal(again.events.at(-1)?.code, 'MODEL_EXISTS');
    assert.match(String(again.events.at(-1)?.message), /--resume.*--force/);
    assert.equal(await fs.readFile(path.join(m, 'state.json'), 'utf8'), stamp, 'the model was touched');

    // An old history line the new run must not inherit.
    await fs.appendFile(path.join(m, 'history.jsonl'), JSON.stringify({ step: 999, valLoss: 1 }) + '\n');
    const forced = await runCli(['train', corpus, ...TINY_ALL, '--out', m, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const history = (await fs.readFile(path.join(m, 'history.jsonl'), 'utf8')).trim().split('\n');
    assert.ok(!history.some((l) => JSON.parse(l).step === 999), 'old history kept');
    assert.equal(JSON.parse(history[0]).step, 0);
    assert.ok(!existsSync(path.join(m, '.lock')), 'lock left behind');
  });

  it('never trains on a model folder inside the corpus (or on itself)', async () => {
    const root = await corpusDir();
    const m = path.join(root, 'models', 'm1');
    const first = await runCli(['train', root, ...TINY_ALL, '--out', m, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const files = first.events.find((e) => e.event === 'corpus')?.files;
    const second = await runCli(['train', root, ...TINY_ALL, '--out', path.join(root, 'm2'), '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.events.find((e) => e.event === 'corpus')?.files, files, 'model files were read as corpus');
  });

  it('refuses to train into a folder another live run holds, and recovers a dead one’s lock', async () => {
    const m = path.join(await tmpDir(), 'model');
    const lock = acquireFolderLock(m, { purpose: 'test' });
    try {
      const r = await runCli(['train', corpus, ...TINY_ALL, '--out', m, '--json']);
      assert.equal(r.code, 1);
      assert.equal(r.events.at(-1)?.code, 'LOCKED');
      assert.match(String(r.events.at(-1)?.message), new RegExp(`process ${process.pid}`));
    } finally {
      lock.release();
    }
    // A lock from a process that no longer exists.
    const dead = { pid: 2 ** 22 + 12345, hostname: (await import('node:os')).hostname(), startedAt: 'x', token: 'y' };
    await fs.writeFile(path.join(m, '.lock'), JSON.stringify(dead));
    const r = await runCli(['train', corpus, ...TINY_ALL, '--out', m]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stale lock/);
    assert.ok(!existsSync(path.join(m, '.lock')));
  });
});
