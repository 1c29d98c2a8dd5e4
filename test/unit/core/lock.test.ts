import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, utimesSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireFolderLock, LOCK_FILE, lockOwner } from '../../../src/core/checkpoint';
import { GptLabError } from '../../../src/core/errors';

async function tmp(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-lock-'));
}

/** A pid that existed and is gone now. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('model folder lock', () => {
  it('lets one holder in and tells the next who holds it', async () => {
    const dir = path.join(await tmp(), 'm');
    const lock = acquireFolderLock(dir, { purpose: 'training' });
    assert.equal(lockOwner(dir)?.pid, process.pid);
    try {
      acquireFolderLock(dir);
      assert.fail('locked twice');
    } catch (e) {
      assert.ok(e instanceof GptLabError);
      assert.equal(e.code, 'LOCKED');
      assert.match(e.message, new RegExp(`process ${process.pid} on ${os.hostname()} \\(training\\)`));
    }
    lock.release();
    lock.release();
    assert.ok(!existsSync(path.join(dir, LOCK_FILE)));
    acquireFolderLock(dir).release();
  });

  it('recovers the lock of a process that died, and says so', async () => {
    const dir = await tmp();
    const pid = deadPid();
    await fs.writeFile(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid, hostname: os.hostname(), startedAt: '2026-01-01T00:00:00Z', token: 'old' }),
    );
    assert.equal(lockOwner(dir), undefined);
    const logs: string[] = [];
    const lock = acquireFolderLock(dir, { onLog: (m) => logs.push(m) });
    assert.match(logs.join('\n'), new RegExp(`stale lock.*process ${pid}`));
    lock.release();
  });

  it('treats a torn lock file as held for a moment, then as stale', async () => {
    const dir = await tmp();
    const file = path.join(dir, LOCK_FILE);
    await fs.writeFile(file, '{"pid":');
    assert.throws(() => acquireFolderLock(dir), /in use/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    acquireFolderLock(dir).release();
  });

  it('does not remove a lock that another run took over', async () => {
    const dir = await tmp();
    const lock = acquireFolderLock(dir);
    const theirs = { pid: process.pid, hostname: os.hostname(), startedAt: 'now', token: 'theirs' };
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify(theirs));
    lock.release();
    assert.ok(existsSync(path.join(dir, LOCK_FILE)));
  });
});
