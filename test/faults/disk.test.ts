import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../../src/core/checkpoint';
import { GptLabError } from '../../src/core/errors';
import { isRoot, runCli, tmpDir, trainedModel } from './support';

/** Every file of `dir` with its bytes, to show that nothing changed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await fs.readdir(dir)).sort()) {
    out[name] = (await fs.readFile(path.join(dir, name))).toString('base64');
  }
  return out;
}

/** Mounts a tmpfs of `size` at `dir` (root only); false when this machine does not allow it. */
function mountTmpfs(dir: string, size: string): boolean {
  if (!isRoot()) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function umount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    // not mounted
  }
}

const weights = (step: number) => {
  const data = new Float32Array(10_000).fill(step);
  return new Map([['w', { dtype: 'F32' as const, shape: [data.length], data }]]);
};

describe('fault: a full disk and a read-only storage folder', function () {
  this.timeout(120_000);
  let corpus: string;
  let model: string;
  const mounts: string[] = [];
  before(async () => {
    ({ corpus, model } = await trainedModel());
  });
  after(() => mounts.forEach(umount));

  it('a disk that fills during a save (ENOSPC simulated): DISK_FULL, the previous checkpoint intact, no leftovers', async () => {
    // Runs everywhere: the file system refuses every write once the first checkpoint is in place.
    const dir = path.join(await tmpDir(), 'model');
    await saveCheckpoint(dir, {
      config: { step: 1 },
      tokenizer: {},
      weights: weights(1),
      optimizer: weights(1),
      step: 1,
    });
    const before = await snapshot(dir);
    const open = fs.open;
    let writes = 0;
    fs.open = (async (file: fsSync.PathLike, flags?: string | number, mode?: fsSync.Mode) => {
      const handle = await open(file, flags, mode);
      if (typeof flags === 'string' && /[wa]/.test(flags)) {
        const full = async () => {
          writes++;
          throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
        };
        Object.assign(handle, { writeFile: full, appendFile: full, write: full });
      }
      return handle;
    }) as typeof fs.open;
    try {
      await assert.rejects(
        saveCheckpoint(dir, {
          config: { step: 2 },
          tokenizer: {},
          weights: weights(2),
          optimizer: weights(2),
          step: 2,
        }),
        (e: unknown) => {
          assert.ok(e instanceof GptLabError, String(e));
          assert.equal(e.code, 'DISK_FULL');
          assert.match(e.message, /disk is full.*step 2.*previous checkpoint is intact/);
          return true;
        },
      );
    } finally {
      fs.open = open;
    }
    assert.ok(writes > 0);
    assert.deepEqual(await snapshot(dir), before);
    assert.equal((await loadCheckpoint(dir)).step, 1);
  });

  it('a real full disk (a small tmpfs, as root): DISK_FULL, the checkpoint intact, resume works once there is space', async function () {
    const mnt = await tmpDir('gpt-lab-fault-tmpfs-');
    // Room for the model and a little more: the next save's weights fit, its optimizer state does not.
    const used = Object.values(await snapshot(model)).reduce((n, b) => n + Buffer.from(b, 'base64').length, 0);
    if (!mountTmpfs(mnt, `${Math.ceil((used + 150_000) / 4096) * 4}k`)) {
      this.skip(); // not root, or mounts not allowed here: the simulated ENOSPC above still ran
    }
    mounts.push(mnt);
    const dir = path.join(mnt, 'model');
    await fs.cp(model, dir, { recursive: true });
    const before = await snapshot(dir);
    const r = await runCli(['train', corpus, '--out', dir, '--resume', '--steps', '3', '--json']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.last?.event, 'error');
    assert.equal(r.last?.code, 'DISK_FULL', JSON.stringify(r.last));
    assert.match(String(r.last?.message), /previous checkpoint is intact/);
    const after = await snapshot(dir);
    // Only history.jsonl may have grown (steps past the checkpoint, dropped on resume); the checkpoint is as it was.
    delete before['history.jsonl'];
    delete after['history.jsonl'];
    assert.deepEqual(after, before);
    assert.equal((await loadCheckpoint(dir)).step, 3);

    execFileSync('mount', ['-o', 'remount,size=4m', mnt]);
    const again = await runCli(['train', corpus, '--out', dir, '--resume', '--steps', '3', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.last?.step, 6);
  });

  it('a read-only model folder: NOT_WRITABLE before anything is written, and the model still samples', async function () {
    const root = await tmpDir('gpt-lab-fault-ro-');
    const dir = path.join(root, 'model');
    let how: string;
    if (mountTmpfs(root, '4m')) {
      mounts.push(root);
      await fs.cp(model, dir, { recursive: true });
      execFileSync('mount', ['-o', 'remount,ro', root]);
      how = 'EROFS';
    } else if (!isRoot()) {
      await fs.cp(model, dir, { recursive: true });
      await fs.chmod(dir, 0o555);
      how = 'EACCES';
    } else {
      this.skip(); // root ignores permissions and may not mount here
    }
    const before = await snapshot(dir);
    const r = await runCli(['train', corpus, '--out', dir, '--resume', '--steps', '3', '--json']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.last?.code, 'NOT_WRITABLE', `${how!}: ${JSON.stringify(r.last)}`);
    assert.match(String(r.last?.message), /Nothing was written/);
    assert.deepEqual(await snapshot(dir), before);
    const s = await runCli(['sample', '--model', dir, '--max-tokens', '3', '--backend', 'wasm', '--json']);
    assert.equal(s.code, 0, s.stderr);
    if (how! === 'EACCES') await fs.chmod(dir, 0o755);
  });
});
