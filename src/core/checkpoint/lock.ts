/**
 * One writer per model folder: `.lock` holds the owner's pid, host name and start time. It is created with
 * O_EXCL, so of two runs racing for it exactly one wins. A lock left by a process that died (kill -9, a crash)
 * is recovered: on the same host, a pid that no longer exists cannot be holding it.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GptLabError, storageError } from '../errors';

export const LOCK_FILE = '.lock';
/** An unreadable lock younger than this may be one being written right now. */
const TORN_LOCK_GRACE_MS = 10_000;

export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO 8601. */
  startedAt: string;
  /** What holds it ("training"), for the message the next one gets. */
  purpose?: string;
  /** Tells this lock from a later one by the same pid. */
  token: string;
}

export interface FolderLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** Removes the lock if it is still ours. Idempotent; also done at process exit. */
  release(): void;
}

/** Takes `dir`'s lock (creating `dir`), or throws LOCKED naming the process that holds it. */
export function acquireFolderLock(
  dir: string,
  opts: { purpose?: string; onLog?: (message: string) => void } = {},
): FolderLock {
  try {
    return acquire(dir, opts);
  } catch (e) {
    throw storageError(e, `taking the lock of ${dir}`, 'Nothing was written.') ?? e;
  }
}

function acquire(dir: string, opts: { purpose?: string; onLog?: (message: string) => void }): FolderLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const owner: LockOwner = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
    ...(opts.purpose !== undefined && { purpose: opts.purpose }),
    token: randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify(owner) + '\n');
      } finally {
        fs.closeSync(fd);
      }
      return held(file, owner);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw e;
    }
    const stale = staleReason(file);
    if (stale === undefined) throw lockedError(dir, readOwner(file));
    opts.onLog?.(`recovering a stale lock in ${dir}: ${stale}`);
    // Another run may recover the same stale lock at the same moment; the O_EXCL create above decides.
    fs.rmSync(file, { force: true });
  }
}

/** Who holds `dir`'s lock, if anyone alive does (a stale lock reads as free). */
export function lockOwner(dir: string): LockOwner | undefined {
  const file = path.join(dir, LOCK_FILE);
  if (!fs.existsSync(file) || staleReason(file) !== undefined) return undefined;
  return readOwner(file);
}

function held(file: string, owner: LockOwner): FolderLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Only our own lock: after a stale recovery by someone else, the file may be theirs.
    if (readOwner(file)?.token === owner.token) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { file, owner, release };
}

/** Why the lock at `file` is stale, or undefined when its owner may still be running. */
function staleReason(file: string): string | undefined {
  const owner = readOwner(file);
  if (!owner) {
    let age = 0;
    try {
      age = Date.now() - fs.statSync(file).mtimeMs;
    } catch {
      return 'it vanished';
    }
    return age > TORN_LOCK_GRACE_MS ? 'the lock file is unreadable (its writer died while writing it)' : undefined;
  }
  if (owner.hostname !== os.hostname()) return undefined; // cannot see another machine's processes
  return processAlive(owner.pid) ? undefined : `process ${owner.pid} that held it is gone`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (!Number.isSafeInteger(v.pid) || typeof v.hostname !== 'string') return undefined;
    return {
      pid: v.pid!,
      hostname: v.hostname,
      startedAt: String(v.startedAt),
      ...(typeof v.purpose === 'string' && { purpose: v.purpose }),
      token: String(v.token),
    };
  } catch {
    return undefined;
  }
}

function lockedError(dir: string, owner: LockOwner | undefined): GptLabError {
  const who = owner
    ? `process ${owner.pid} on ${owner.hostname}${owner.purpose ? ` (${owner.purpose})` : ''}, since ${owner.startedAt}`
    : 'another process (its lock file is being written)';
  return new GptLabError(
    `The model folder ${dir} is in use by ${who}. Wait for it to finish or stop it; if that process is gone, ` +
      `delete ${path.join(dir, LOCK_FILE)}.`,
    'LOCKED',
  );
}
