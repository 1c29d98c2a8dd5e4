import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { saveCheckpoint } from '../../../src/core/checkpoint';
import { GptLabError } from '../../../src/core/errors';
import { checkVersionName, listVersions } from '../../../src/core/versions';

/** Names an attacker (or a slip) would try: separators, dots, NUL, drive letters, unicode look-alikes. */
const tricky = fc.oneof(
  fc.string({ unit: fc.constantFrom('.', '/', '\\', 'a', '-', '_', ':', '\0', ' ', '~', '%', '\u2215', '\uff0e') }),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('..', '.', '../x', 'a/../../b', '/etc', 'C:\\x', 'C:', 'a\0b', '.git', ' ..', '...', 'sft-1/..'),
);

describe('version names cannot leave the models folder', () => {
  it('a name checkVersionName accepts is one plain folder directly under the root', () => {
    const root = path.resolve('/models/root');
    fc.assert(
      fc.property(tricky, (name) => {
        let n: string;
        try {
          n = checkVersionName(name);
        } catch (e) {
          assert.ok(e instanceof GptLabError && e.code === 'BAD_VERSION_NAME', String(e));
          return;
        }
        const dir = path.resolve(root, n);
        assert.equal(path.dirname(dir), root, `${JSON.stringify(name)} → ${dir}`);
        assert.equal(path.basename(dir), n);
        assert.ok(n !== '.' && n !== '..' && !n.includes('\0'));
      }),
      { numRuns: 2000 },
    );
  });

  it('listVersions lists only real sub-folders: a symlink to a model elsewhere is not a version', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-versions-'));
    const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-outside-'));
    const w = new Map([['w', { dtype: 'F32' as const, shape: [1], data: new Float32Array(1) }]]);
    await saveCheckpoint(outside, { config: {}, tokenizer: {}, weights: w, step: 1 });
    await fs.symlink(outside, path.join(root, 'base'));
    const { versions } = await listVersions(root);
    assert.deepEqual(versions, []);
  });
});
