import { strict as assert } from 'node:assert';
import * as vscode from 'vscode';
import { AUTO_MAX_PASSES } from '../../src/core/model/config';
import type { TrainResult } from '../../src/core/train/trainer';
import type { Lab } from '../../src/host/lab';

describe('auto on a small workspace (real extension host)', function () {
  this.timeout(5 * 60_000);

  // Named to run last (the runner sorts files): it replaces the workspace's model with auto's few-second one, and
  // the suites before it (pause, Stage 2's completions) are written against the tiny models the others train.

  it('ends at its cap of passes over the code, long before the minutes, and says which budget ended it', async () => {
    const ext = vscode.extensions.getExtension<{ lab: Lab }>('gpt-lab.gpt-lab');
    assert.ok(ext, 'the extension is installed');
    const l = (await ext.activate()).lab;
    await l.deleteModel();
    const started = Date.now();
    // The fixture workspace is a few kB: 8 passes are seconds of the 3 minutes.
    const r = await vscode.commands.executeCommand<TrainResult | undefined>('gptLab.train', {
      preset: 'auto',
      minutes: 3,
    });
    assert.ok(r, 'training returned a result');
    assert.equal(r.stopped, 'budget');
    assert.equal(r.endedBy, 'passes');
    assert.ok(r.passes! >= AUTO_MAX_PASSES && r.passes! < AUTO_MAX_PASSES + 1, `passes ${r.passes}`);
    assert.ok(Date.now() - started < 3 * 60_000, 'ended before the minutes');
    assert.ok(l.info, 'the model is ready');
    assert.equal(l.info.step, r.step);
    // Resume trains the steps asked for: the cap, already reached, does not end it at once.
    const more = await vscode.commands.executeCommand<TrainResult | undefined>('gptLab.resume', { steps: 5 });
    assert.ok(more, 'resume returned a result');
    assert.equal(more.step, r.step + 5);
    assert.notEqual(more.endedBy, 'passes');
  });
});
