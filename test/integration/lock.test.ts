import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LOCK_FILE } from '../../src/core/checkpoint/lock';
import type { TrainResult } from '../../src/core/train/trainer';
import type { Lab } from '../../src/host/lab';

async function lab(): Promise<Lab> {
  const ext = vscode.extensions.getExtension<{ lab: Lab }>('gpt-lab.gpt-lab');
  assert.ok(ext, 'the extension is installed');
  return (await ext.activate()).lab;
}

/** Another process (a second window's worker, or `gpt-lab train` in a terminal) holding a model folder's lock. */
async function holdLock(dir: string): Promise<ChildProcess> {
  const module = path.resolve(__dirname, '../../src/core/checkpoint/lock.js');
  const script = `
    require(${JSON.stringify(module)}).acquireFolderLock(${JSON.stringify(dir)}, { purpose: 'gpt-lab train in a terminal' });
    process.stdout.write('locked\\n');
    setInterval(() => undefined, 60_000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}): ${err}`)));
  });
  return child;
}

/** Error notifications shown while `run` runs (answered at once, as if dismissed). */
async function errorsShownDuring<T>(run: () => Thenable<T>): Promise<{ result: T; errors: string[] }> {
  const errors: string[] = [];
  const show = vscode.window.showErrorMessage;
  (vscode.window as { showErrorMessage: unknown }).showErrorMessage = (message: string) => {
    errors.push(message);
    return Promise.resolve(undefined);
  };
  try {
    return { result: await run(), errors };
  } finally {
    (vscode.window as { showErrorMessage: unknown }).showErrorMessage = show;
  }
}

describe('Two windows on one workspace: the model folder is locked by another process', function () {
  this.timeout(5 * 60_000);

  it('Train on Workspace is refused with a message naming the process; once it is gone, its stale lock is recovered', async () => {
    const l = await lab();
    if (l.versions.get('base')) await l.useVersion('base');
    const dir = l.modelDir;
    const before = l.info?.step;
    const other = await holdLock(dir);
    try {
      const train = () =>
        vscode.commands.executeCommand<TrainResult | undefined>('gptLab.train', { preset: 'tiny', steps: 3 });
      const { result, errors } = await errorsShownDuring(train);
      assert.equal(result, undefined, 'the run is refused, not queued behind the other');
      assert.equal(l.training, false);
      assert.equal(l.info?.step, before, 'the model is untouched');
      const said = errors.join('\n');
      assert.match(said, /another window or process is already training this model/, said);
      assert.match(said, new RegExp(`in use by process ${other.pid}\\b.*gpt-lab train in a terminal`), said);
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => (other.exitCode !== null || other.signalCode !== null ? r(0) : other.once('exit', r)));
    }
    // The holder died without releasing its lock (as a crashed window would): the next run recovers it.
    assert.ok(existsSync(path.join(dir, LOCK_FILE)), 'the dead holder left its lock');
    const resume = l.info !== null;
    const again = await vscode.commands.executeCommand<TrainResult | undefined>(
      resume ? 'gptLab.resume' : 'gptLab.train',
      { preset: 'tiny', steps: 3 },
    );
    assert.equal(again?.step, (resume ? before! : 0) + 3);
    assert.ok(!existsSync(path.join(dir, LOCK_FILE)), 'the lock outlived the run');
  });
});
