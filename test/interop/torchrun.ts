/**
 * torchrun for the tests, with a hang guard. Each run gets its own rendezvous port (two runs on one machine do not
 * collide) and runs in its own process group; past its time limit, or when the suite ends with it still running,
 * the whole group is stopped (SIGTERM: every rank prints its Python stack into its own log — scale/train_ddp.py
 * registers faulthandler for it — then SIGKILL), so no rank is left spinning, and the error shows each rank's log.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** A TCP port no one listens on now (the OS picks it), so runs on one machine do not share torchrun's 29400. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Process groups of runs still going: `stopAll` ends them (the suite's `after`). */
const running = new Set<number>();

function stopGroup(pgid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // the group is gone
    }
  };
  signal('SIGTERM');
  return new Promise((resolve) =>
    setTimeout(() => {
      signal('SIGKILL');
      running.delete(pgid);
      resolve();
    }, graceMs),
  );
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((pgid) => stopGroup(pgid, 2000)));
}

/** The last `lines` lines of every rank's stdout in torchrun's --log_dir (RUN/attempt_N/RANK/stdout.log). */
async function rankLogs(logDir: string, lines = 25): Promise<string> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name === 'stdout.log' || e.name === 'error.json') {
        const text = (await fs.readFile(p, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
        out.push(`--- ${path.relative(logDir, p)}\n${text || '(empty)'}`);
      }
    }
  };
  await walk(logDir);
  return out.length ? out.sort().join('\n') : '(no rank logs)';
}

export interface TorchrunOptions {
  python: string;
  nproc: number;
  /** The script and its arguments. */
  args: string[];
  /** torchrun's --log_dir: each rank's stdout.log (and error.json when it fails) under it. */
  logDir: string;
  limitMs: number;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs torchrun on one node; resolves with its stdout, rejects with every rank's log tail when it fails or hangs. */
export async function torchrun(o: TorchrunOptions): Promise<string> {
  const port = await freePort();
  const argv = [
    '-m',
    'torch.distributed.run',
    // Not --standalone: its rendezvous is always port 29400 in torch 1.13, and two runs on one machine collide.
    '--nnodes=1',
    '--rdzv_backend=c10d',
    `--rdzv_endpoint=127.0.0.1:${port}`,
    `--rdzv_id=gpt-lab-test-${process.pid}-${port}`,
    `--nproc_per_node=${o.nproc}`,
    // Debian's torch 1.13 torchrun cannot parse the default '0' of --redirects/--tee on Python 3.11 (nor 3 = both).
    '--redirects',
    '1',
    '--tee',
    '1',
    '--log_dir',
    o.logDir,
    // How often the agent looks at its workers: the default 5 s is added to every run's end.
    '--monitor_interval',
    '1',
    ...o.args,
  ];
  const child = spawn(o.python, argv, { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid!;
  running.add(pgid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-(1 << 20))));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-(1 << 20))));
  let stopping: Promise<void> | undefined;
  const timer = setTimeout(() => (stopping = stopGroup(pgid, 5000)), o.limitMs);
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  const timedOut = stopping !== undefined;
  // Past the limit: wait until the ranks have printed their stacks and are gone. Otherwise the agent has ended,
  // and a rank it left behind must not outlive the test.
  await (stopping ?? stopGroup(pgid, 0));
  if (code === 0 && !timedOut) return stdout;
  const what = timedOut
    ? `ran past ${Math.round(o.limitMs / 1000)} s: its process group was stopped (SIGTERM, then SIGKILL)`
    : `failed (exit ${code}) after ${Math.round((Date.now() - started) / 1000)} s`;
  throw new Error(
    `torchrun ${argv.slice(2).join(' ')}\n${what}.\n` +
      `Each rank's log (a stopped rank ends with its Python stack):\n${await rankLogs(o.logDir)}\n` +
      `--- torchrun's stderr (tail)\n${stderr.slice(-4000)}`,
  );
}
