import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { corpusDir, runCli, TINY_ALL, tmpDir } from './run';

let trained: Promise<string> | undefined;

/**
 * A tiny model trained by `gpt-lab train` (TINY_ALL) as `root/base` in a new folder `root`, for the tests of the
 * stages that start from one (finetune, reward, dpo, ppo): trained once per test run, copied for each caller.
 */
export async function tinyBase(): Promise<{ root: string; base: string }> {
  trained ??= (async () => {
    const dir = path.join(await tmpDir(), 'base');
    const r = await runCli(['train', await corpusDir(), ...TINY_ALL, '--out', dir]);
    assert.equal(r.code, 0, r.stderr);
    return dir;
  })();
  const root = await tmpDir();
  const base = path.join(root, 'base');
  await fs.cp(await trained, base, { recursive: true });
  return { root, base };
}
