import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { acquireFolderLock } from '../../src/core/checkpoint/lock';
import { loadModel } from '../../src/core/model/persist';
import type { TrainResult } from '../../src/core/train/trainer';
import type { Lab } from '../../src/host/lab';

async function lab(): Promise<Lab> {
  const ext = vscode.extensions.getExtension<{ lab: Lab }>('gpt-lab.gpt-lab');
  assert.ok(ext, 'the extension is installed');
  const api = await ext.activate();
  return api.lab;
}

function train(
  args: { preset?: string; steps?: number; minutes?: number },
  resume = false,
): Thenable<TrainResult | undefined> {
  return vscode.commands.executeCommand<TrainResult | undefined>(resume ? 'gptLab.resume' : 'gptLab.train', {
    preset: 'tiny',
    ...args,
  });
}

/** Resolves once the worker has reported `step` training steps. */
function untilStep(l: Lab, step: number): Promise<void> {
  return new Promise((resolve) => {
    const sub = l.worker.onEvent((e) => {
      if (e.event === 'progress' && e.data.step >= step) {
        sub.dispose();
        resolve();
      }
    });
  });
}

describe('Train on Workspace (real extension host)', function () {
  this.timeout(5 * 60_000);

  it('trains a tiny model on the fixture workspace to a checkpoint, skipping what a user would not train on', async () => {
    const l = await lab();
    await l.deleteModel();
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const result = await train({ steps: 40 });
    delay.disable();
    assert.ok(result, 'training returned a result');
    assert.equal(result.step, 40);
    assert.ok(result.valLoss < result.initialValLoss, `val loss ${result.initialValLoss} → ${result.valLoss}`);

    assert.ok(l.info, 'the model is ready');
    assert.equal(l.info.step, 40);
    assert.equal(l.training, false);
    const corpus = l.lastCorpus!;
    assert.ok(corpus.files >= 5, `${corpus.files} files`);
    assert.ok(corpus.skipped.binary >= 1, 'the binary file was skipped');
    assert.ok(corpus.skipped.ignored >= 1, 'the .gitignored folder was skipped');

    const model = await loadModel(l.modelDir);
    model.model.dispose();
    assert.equal(model.checkpoint.step, 40);

    // How responsive the host's event loop stayed while the worker trained: a figure, not a pass/fail (it
    // depends on the machine's load), kept with the benchmark artifacts.
    const figures = { p50ms: delay.percentile(50) / 1e6, p99ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 };
    console.log(`event-loop delay during training: ${JSON.stringify(figures)}`);
    const artifacts = path.resolve(__dirname, '../../../.artifacts');
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(
      path.join(artifacts, 'bench-event-loop.json'),
      JSON.stringify({ date: new Date().toISOString(), ...figures }),
    );
  });

  it('stops at a step boundary with a checkpoint, then resumes from it', async () => {
    const l = await lab();
    await l.deleteModel();
    const running = train({ steps: 5000 });
    await untilStep(l, 8);
    await vscode.commands.executeCommand('gptLab.stop');
    const stopped = await running;
    assert.ok(stopped);
    assert.equal(stopped.stopped, 'cancelled');
    assert.ok(stopped.step >= 8 && stopped.step < 5000);
    assert.equal(l.info?.step, stopped.step);

    // Resume trains the budget it is given on top of the checkpoint (10 steps more, not "until step 10").
    const resumed = await train({ steps: 10 }, true);
    assert.ok(resumed);
    assert.equal(resumed.step, stopped.step + 10);
    assert.equal(resumed.stopped, 'budget');
    assert.equal(l.info?.step, stopped.step + 10);
  });

  it('survives a killed worker: the extension keeps working, the checkpoint is intact, training resumes', async () => {
    const l = await lab();
    await l.deleteModel();
    const first = await train({ steps: 12 });
    assert.equal(first?.step, 12);

    const running = train({ steps: 100_000 }, true);
    await untilStep(l, 15);
    const pid = l.worker.pid;
    assert.ok(pid, 'the worker runs in its own process');
    process.kill(pid, 'SIGKILL');
    const killed = await running;
    assert.equal(killed, undefined, 'the run reports failure instead of a result');
    assert.equal(l.training, false);
    assert.equal(l.info?.step, 12, 'the last checkpoint is intact');

    const again = await train({ steps: 20 }, true);
    assert.equal(again?.step, 12 + 20, 'a new worker resumes from the checkpoint and trains 20 steps more');
    assert.notEqual(l.worker.pid, pid);
  });

  it('does not train while another window or process trains into the model folder, and trains once it is done', async () => {
    const l = await lab();
    const before = l.info?.step;
    // The extension host plays the other window: its process holds the lock the worker needs.
    const other = acquireFolderLock(l.modelDir, { purpose: 'GPT Lab training in another VS Code window' });
    try {
      assert.equal(await train({ steps: 3 }), undefined, 'the run is refused, not queued behind the other');
      assert.equal(l.training, false);
      assert.equal(l.info?.step, before, 'the model is untouched');
    } finally {
      other.release();
    }
    assert.equal((await train({ steps: 3 }))?.step, 3);
  });

  it('opens the training panel as an editor tab', async () => {
    await lab();
    const labels = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label);
    await vscode.commands.executeCommand('gptLab.showPanel');
    // The tab appears a moment after the command returns.
    for (let i = 0; i < 50 && !labels().includes('GPT Lab: Training'); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(labels().includes('GPT Lab: Training'), `the panel is open (tabs: ${labels().join(', ')})`);
  });
});
