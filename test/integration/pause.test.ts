import { strict as assert } from 'node:assert';
import * as vscode from 'vscode';
import type { TrainResult } from '../../src/core/train/trainer';
import type { Lab } from '../../src/host/lab';
import { statusBarText } from '../../src/host/statusBar';
import type { WorkerExit } from '../../src/host/workerClient';

async function lab(): Promise<Lab> {
  const ext = vscode.extensions.getExtension<{ lab: Lab }>('gpt-lab.gpt-lab');
  assert.ok(ext, 'the extension is installed');
  return (await ext.activate()).lab;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A laptop that sleeps mid-training pauses the worker process (SIGSTOP here, SIGCONT when it wakes). The host
 * notices a dead worker only by its exit, never by a missed heartbeat, so a pause of any length is not a crash:
 * training goes on where it was, and the status bar says "training" during the pause and "ready" after it.
 */
describe('A paused worker (the machine sleeps: SIGSTOP, later SIGCONT) is not declared dead', function () {
  this.timeout(5 * 60_000);

  it('training continues after a pause longer than any timeout, and the status bar tells the truth', async () => {
    const l = await lab();
    const resume = l.info !== null; // keep the workspace's model (later suites use it): train on top of it
    const from = resume ? l.info!.step : 0;
    const steps = 60;
    const exits: WorkerExit[] = [];
    const sub = l.worker.onExit((e) => exits.push(e));
    const reached = new Promise<void>((resolve) => {
      const s = l.worker.onEvent((e) => {
        if (e.event === 'progress' && e.data.step >= from + 5) {
          s.dispose();
          resolve();
        }
      });
    });
    const running = vscode.commands.executeCommand<TrainResult | undefined>(resume ? 'gptLab.resume' : 'gptLab.train', {
      preset: 'tiny',
      steps,
    });
    await reached;
    const pid = l.worker.pid;
    assert.ok(pid, 'the worker runs in its own process');
    process.kill(pid, 'SIGSTOP');
    try {
      await sleep(15_000);
      const paused = l.progress?.step ?? 0;
      assert.equal(exits.length, 0, 'the worker was declared gone during the pause');
      assert.equal(l.training, true, 'the host still knows training is going on');
      assert.equal(l.worker.pid, pid, 'no new worker was started');
      assert.match(statusBarText(l).text, /GPT Lab: training \d+%/);
      assert.ok(paused < from + steps, 'the run finished during the pause?');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const result = await running;
    sub.dispose();
    assert.ok(result, 'the run reports its result after the pause');
    assert.equal(result.step, from + steps);
    assert.equal(result.stopped, 'budget');
    assert.equal(exits.length, 0, 'the worker did not exit');
    assert.equal(l.worker.pid, pid, 'the same worker finished the run');
    assert.equal(l.training, false);
    assert.equal(l.info?.step, from + steps, 'the model is saved at the last step');
    assert.match(statusBarText(l).text, /GPT Lab: model ready/);
    assert.match(statusBarText(l).tooltip, new RegExp(`step ${from + steps}\\b`));
  });
});
