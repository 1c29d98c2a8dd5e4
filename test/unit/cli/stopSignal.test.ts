import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../../../src/core/checkpoint';
import { stopOnSignal } from '../../../src/cli/stopSignal';
import { corpusDir, TINY_ALL, tmpDir } from './run';

type Listener = (...args: unknown[]) => void;

/** The handlers stopOnSignal added (called directly: emitting SIGINT would reach mocha's own handler too). */
function added(signal: 'SIGINT' | 'SIGTERM', before: Listener[]): Listener[] {
  return (process.listeners(signal) as Listener[]).filter((l) => !before.includes(l));
}

describe('cli: Ctrl+C during a training command (stopOnSignal, shared by train and the later stages)', () => {
  it('once: asks the run to stop at a step and says so; twice: exits 130; dispose takes both handlers off', () => {
    const before = {
      SIGINT: process.listeners('SIGINT') as Listener[],
      SIGTERM: process.listeners('SIGTERM') as Listener[],
    };
    const said: string[] = [];
    const stop = stopOnSignal({ info: (m) => said.push(m) });
    const exits: (number | undefined)[] = [];
    const exit = process.exit;
    process.exit = ((code?: number) => void exits.push(code)) as typeof process.exit;
    try {
      const [onInt] = added('SIGINT', before.SIGINT);
      assert.equal(added('SIGTERM', before.SIGTERM)[0], onInt, 'SIGTERM counts as Ctrl+C');
      assert.equal(stop.requested, false);
      onInt();
      assert.equal(stop.requested, true);
      assert.deepEqual(exits, []);
      assert.match(said.join('\n'), /stopping after this step and saving a checkpoint.*Ctrl\+C again to quit now/);
      onInt();
      assert.deepEqual(exits, [130]);
    } finally {
      process.exit = exit;
      stop.dispose();
    }
    assert.deepEqual(added('SIGINT', before.SIGINT), []);
    assert.deepEqual(added('SIGTERM', before.SIGTERM), []);
  });
});

const BIN = path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'gpt-lab.js');

/** The CLI in a child process, sent `signal` once its first progress event is out; its JSON events and exit code. */
function interrupted(args: string[], signal: NodeJS.Signals): Promise<{ code: number | null; events: CliEvent[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += String(chunk);
      if (!sent && stdout.includes('"event":"progress"')) {
        sent = true;
        child.kill(signal);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (!sent) return reject(new Error(`no progress event before exit ${code}: ${stderr}`));
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as CliEvent);
      resolve({ code, events });
    });
  });
}

type CliEvent = { event: string; stopped?: string; step?: number };

describe('cli: Ctrl+C stops train and a later stage at a step, saved (real processes)', function () {
  this.timeout(180_000);
  let corpus: string;
  let root: string;

  before(async () => {
    corpus = await corpusDir();
    root = await tmpDir();
  });

  it('train (SIGINT) and finetune (SIGTERM) end at the step they were on, with a loadable checkpoint', async () => {
    const base = path.join(root, 'base');
    const many = TINY_ALL.map((a, i) => (TINY_ALL[i - 1] === '--steps' ? '100000' : a));
    const t = await interrupted(['train', corpus, ...many, '--out', base, '--no-completions'], 'SIGINT');
    const tDone = t.events.at(-1)!;
    assert.equal(t.code, 0);
    assert.deepEqual([tDone.event, tDone.stopped], ['done', 'cancelled']);
    assert.ok(tDone.step! >= 1 && tDone.step! < 100000, String(tDone.step));
    assert.equal((await loadCheckpoint(base)).step, tDone.step);

    const data = path.join(root, 'examples.jsonl');
    await fs.writeFile(data, JSON.stringify({ prompt: '// add\n', completion: 'return a + b;' }) + '\n');
    const sft = path.join(root, 'sft');
    const f = await interrupted(
      ['finetune', '--model', base, '--data', data, '--steps', '100000', '--out', sft, '--backend', 'wasm'],
      'SIGTERM',
    );
    const fDone = f.events.at(-1)!;
    assert.equal(f.code, 0);
    assert.deepEqual([fDone.event, fDone.stopped], ['done', 'cancelled']);
    assert.equal((await loadCheckpoint(sft)).step, fDone.step);
  });
});
