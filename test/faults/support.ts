/**
 * The fault suite drives the real CLI (`bin/gpt-lab.js`, built by `npm run build`) as a child process, so a
 * SIGKILL, SIGSTOP or full disk hits a whole training process, as it would hit the extension's worker.
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { codeFiles } from '../unit/helpers/tf';

export const ROOT = path.resolve(__dirname, '../../..');
export const BIN = path.join(ROOT, 'bin', 'gpt-lab.js');

/** The smallest model the CLI trains (steps take milliseconds; a checkpoint every 200 steps). */
export const TINY = [
  '--layers',
  '1',
  '--embd',
  '32',
  '--heads',
  '2',
  '--context',
  '32',
  '--vocab',
  '300',
  '--batch',
  '2',
  '--backend',
  'wasm',
];

/**
 * Random choices come from one seed, printed once, so a failing run can be replayed with FAULT_SEED=<n>.
 */
const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
let rngState = seed >>> 0 || 1;
console.log(`fault suite: FAULT_SEED=${seed}`);
/** A uniform integer in [lo, hi]. */
export function randInt(lo: number, hi: number): number {
  rngState ^= rngState << 13;
  rngState ^= rngState >>> 17;
  rngState ^= rngState << 5;
  rngState >>>= 0;
  return lo + (rngState % (hi - lo + 1));
}

const made: string[] = [];
export async function tmpDir(prefix = 'gpt-lab-fault-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
// A root-level hook (this module is loaded once): the suite leaves no temp folders behind.
after(async () => {
  for (const dir of made.splice(0)) await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

/** A small folder of source files to train on. */
export async function corpusDir(): Promise<string> {
  const dir = await tmpDir('gpt-lab-fault-corpus-');
  for (const f of codeFiles(4)) {
    await fs.mkdir(path.join(dir, path.dirname(f.path)), { recursive: true });
    await fs.writeFile(path.join(dir, f.path), f.bytes);
  }
  return dir;
}

export type CliEvent = Record<string, unknown> & { event: string };

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Node options before the script (say, --require a preload). */
  nodeArgs?: string[];
  /** Keep `train`'s completion check (left out by default). */
  completions?: boolean;
}

/** A CLI process under test: its JSON events as they come, and a way to wait for one. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly events: CliEvent[] = [];
  stderr = '';
  private buffered = '';
  private waiters: { test: (e: CliEvent) => boolean; resolve: (e: CliEvent | undefined) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], opts: RunOptions = {}) {
    // A train run ends with a check of completions on held-out files (seconds); the suite is about the files.
    if (args[0] === 'train' && !opts.completions) args = [...args, '--no-completions'];
    this.child = spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.buffered += d;
      const lines = this.buffered.split('\n');
      this.buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const e = JSON.parse(line) as CliEvent;
        this.events.push(e);
        this.waiters = this.waiters.filter((w) => (w.test(e) ? (w.resolve(e), false) : true));
      }
    });
    this.child.stderr!.on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        for (const w of this.waiters) w.resolve(undefined);
        this.waiters = [];
        resolve({ code, signal });
      });
    });
  }

  /** The first event (past or future) that passes `test`; undefined if the process ends without one. */
  waitFor(test: (e: CliEvent) => boolean): Promise<CliEvent | undefined> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.child.kill(signal);
    await this.exited;
  }

  /** What the run said, for assertion messages. */
  describe(): string {
    return `stderr: ${this.stderr.slice(-2000)}\nlast events: ${JSON.stringify(this.events.slice(-3))}`;
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: CliEvent[];
  stderr: string;
  /** The last event: `done` on success, `error` (with a code) on a failure. */
  last: CliEvent | undefined;
}

/** Runs the CLI to its end. */
export async function runCli(args: string[], opts: RunOptions = {}) {
  const p = new CliProcess(args, opts);
  const { code, signal } = await p.exited;
  const r: CliResult = { code, signal, events: p.events, stderr: p.stderr, last: p.events.at(-1) };
  return r;
}

/** history.jsonl's records (the file must hold only whole JSON lines). */
export async function historySteps(dir: string): Promise<number[]> {
  const text = await fs.readFile(path.join(dir, 'history.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { step: number }).step);
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let baseModel: Promise<{ corpus: string; model: string }> | undefined;
/** A corpus and a small model trained on it (3 steps), made once per suite run; copy it before changing it. */
export function trainedModel(): Promise<{ corpus: string; model: string }> {
  baseModel ??= (async () => {
    const corpus = await corpusDir();
    const model = path.join(await tmpDir(), 'model');
    const r = await runCli(['train', corpus, '--out', model, '--steps', '3', ...TINY, '--json']);
    if (r.code !== 0) throw new Error(`training the suite's model failed: ${r.stderr}`);
    return { corpus, model };
  })();
  return baseModel;
}

/** A fresh copy of trainedModel()'s folder. */
export async function copyOfModel(): Promise<string> {
  const { model } = await trainedModel();
  const dir = path.join(await tmpDir(), 'model');
  await fs.cp(model, dir, { recursive: true });
  return dir;
}

/** Step numbers of history.jsonl: strictly increasing (nothing twice) and none past the checkpoint. */
export async function assertHistoryConsistent(dir: string, checkpointStep: number): Promise<void> {
  const steps = await historySteps(dir);
  assert.ok(steps.length > 0, 'history.jsonl is empty');
  for (let i = 1; i < steps.length; i++) {
    assert.ok(steps[i] > steps[i - 1], `history.jsonl repeats or reorders steps: ${steps.slice(i - 3, i + 2)}`);
  }
  assert.ok(steps.at(-1)! <= checkpointStep, `history.jsonl has step ${steps.at(-1)} after the checkpoint`);
}

/** Starts `args`, kills it with SIGKILL once it reports step `killAt`, and returns the last step it reported. */
export async function killAtStep(args: string[], killAt: number): Promise<number> {
  const p = new CliProcess(args);
  const seen = await p.waitFor((e) => e.event === 'progress' && (e.step as number) >= killAt);
  assert.ok(seen, `the run ended before step ${killAt}: ${p.describe()}`);
  await p.kill('SIGKILL');
  const progress = p.events.filter((e) => e.event === 'progress');
  return progress.at(-1)!.step as number;
}
