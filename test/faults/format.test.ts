import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inspectOutFolder } from '../../src/core/checkpoint';
import { runCli, tmpDir, trainedModel } from './support';

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await fs.readdir(dir)).sort()) out[name] = await fs.readFile(path.join(dir, name), 'hex');
  return out;
}

describe('fault: a checkpoint written by another format version', function () {
  this.timeout(120_000);
  let corpus: string;
  let model: string;
  before(async () => {
    ({ corpus, model } = await trainedModel());
  });

  /** A copy of the model as a future GPT Lab would write it: `change` edits a file, state.json re-hashes it. */
  async function futureCopy(file: 'state.json' | 'config.json', change: (v: Record<string, unknown>) => void) {
    const dir = path.join(await tmpDir(), 'model');
    await fs.cp(model, dir, { recursive: true });
    const statePath = path.join(dir, 'state.json');
    const state = JSON.parse(await fs.readFile(statePath, 'utf8'));
    const target = path.join(dir, file);
    const v = file === 'state.json' ? state : JSON.parse(await fs.readFile(target, 'utf8'));
    change(v);
    if (file === 'config.json') {
      const bytes = Buffer.from(JSON.stringify(v, null, 2) + '\n');
      await fs.writeFile(target, bytes);
      state.files['config.json'] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    }
    await fs.writeFile(statePath, JSON.stringify(state, null, 2) + '\n');
    return dir;
  }

  const cases: [string, 'state.json' | 'config.json', (v: Record<string, unknown>) => void, RegExp][] = [
    ['state.json version 2', 'state.json', (v) => (v.version = 2), /version 2.*newer version of GPT Lab/],
    ['config.json format gpt-lab-config-v2', 'config.json', (v) => (v.format = 'gpt-lab-config-v2'), /another version/],
  ];
  for (const [what, file, change, message] of cases) {
    it(`${what}: sample and resume refuse it, a fresh run would not replace it; the folder is left as it was`, async () => {
      const dir = await futureCopy(file, change);
      const before = await snapshot(dir);
      for (const args of [
        ['sample', '--model', dir, '--max-tokens', '3', '--backend', 'wasm', '--json'],
        ['train', corpus, '--out', dir, '--resume', '--steps', '3', '--json'],
      ]) {
        const r = await runCli(args);
        assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
        assert.equal(r.last?.event, 'error');
        assert.equal(r.last?.code, 'BAD_CHECKPOINT', `${args[0]}: ${JSON.stringify(r.last)}`);
        assert.match(String(r.last?.message), message);
        assert.doesNotMatch(String(r.last?.message), /delete it/);
      }
      // A fresh run without --force does not replace it either: the CLI sees a model folder (MODEL_EXISTS).
      assert.equal(await inspectOutFolder(dir), 'model');
      assert.deepEqual(await snapshot(dir), before);
    });
  }
});
