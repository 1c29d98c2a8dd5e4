import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { checkpointExists, inspectOutFolder, loadCheckpoint } from '../../src/core/checkpoint';
import { assertHistoryConsistent, copyOfModel, corpusDir, killAtStep, randInt, runCli, TINY, tmpDir } from './support';

describe('fault: the training process is killed (SIGKILL) at random points', function () {
  this.timeout(120_000);
  let corpus: string;
  before(async () => {
    corpus = await corpusDir();
  });

  it('pre-training, before the first checkpoint: nothing to resume (said so), the folder is not a model', async () => {
    const out = path.join(await tmpDir(), 'model');
    await killAtStep(['train', corpus, '--out', out, '--steps', '1000', ...TINY, '--json'], randInt(1, 190));
    assert.equal(checkpointExists(out), false);
    // A fresh run may use the folder without --force: it holds only GPT Lab's leftovers (history, a stale lock).
    assert.equal(await inspectOutFolder(out), 'leftovers');
    const resumed = await runCli(['train', corpus, '--out', out, '--resume', '--steps', '3', '--json']);
    assert.equal(resumed.code, 1);
    assert.equal(resumed.last?.event, 'error');
    assert.equal(resumed.last?.code, 'NO_CHECKPOINT', JSON.stringify(resumed.last));
  });

  it('pre-training, killed twice after checkpoints: each time the last checkpoint loads and resume continues', async () => {
    // Checkpoints every 200 steps. The kill may land inside the save after step `last`: either checkpoint is fine.
    const out = path.join(await tmpDir(), 'model');
    let last = await killAtStep(
      ['train', corpus, '--out', out, '--steps', '1000', ...TINY, '--json'],
      randInt(205, 420),
    );
    let ckpt = await loadCheckpoint(out);
    const near = (step: number) => [Math.floor(step / 200) * 200, Math.floor(step / 200) * 200 - 200];
    assert.ok(near(last).includes(ckpt.step), `killed after step ${last}: checkpoint at step ${ckpt.step}`);
    assert.ok(ckpt.optimizer, 'the optimizer state of the checkpoint is missing');

    // Resumed, and killed again past its next checkpoint.
    const from = ckpt.step;
    last = await killAtStep(['train', corpus, '--out', out, '--resume', '--json'], from + randInt(205, 300));
    ckpt = await loadCheckpoint(out);
    assert.ok(near(last).includes(ckpt.step), `killed after step ${last}: checkpoint at step ${ckpt.step}`);
    assert.ok(ckpt.step > from, 'the resumed run saved nothing');

    const resumed = await runCli(['train', corpus, '--out', out, '--resume', '--steps', '3', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr + JSON.stringify(resumed.last));
    assert.equal(resumed.last?.event, 'done');
    assert.equal(resumed.last?.step, ckpt.step + 3, `resumed from step ${ckpt.step}`);
    // The resumed run's first step is the checkpoint's next one.
    assert.equal(resumed.events.find((e) => e.event === 'progress')?.step, ckpt.step + 1);
    await assertHistoryConsistent(out, ckpt.step + 3);
    assert.equal((await loadCheckpoint(out)).step, ckpt.step + 3);
  });

  it('fine-tuning: the parent is untouched, the last checkpoint loads, resume continues from it', async () => {
    const root = await tmpDir();
    const base = await copyOfModel();
    const data = path.join(root, 'examples.jsonl');
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ prompt: `// add ${i}\n`, completion: `return a + ${i};` }),
    );
    await fs.writeFile(data, lines.join('\n') + '\n');
    const parentState = await fs.readFile(path.join(base, 'state.json'));
    const sft = path.join(root, 'sft-1');
    // Fine-tuning saves every 100 steps.
    const args = ['finetune', '--model', base, '--data', data, '--out', sft, '--batch', '2', '--backend', 'wasm'];
    const last = await killAtStep([...args, '--steps', '600', '--json'], randInt(105, 260));
    const ckpt = await loadCheckpoint(sft);
    const expected = Math.floor(last / 100) * 100;
    assert.ok(ckpt.step === expected || ckpt.step === expected - 100, `killed after ${last}: at ${ckpt.step}`);
    assert.deepEqual(await fs.readFile(path.join(base, 'state.json')), parentState, 'the parent changed');

    const resumed = await runCli([...args, '--resume', '--steps', '3', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr + JSON.stringify(resumed.last));
    assert.equal(resumed.last?.event, 'done');
    assert.equal(resumed.last?.step, ckpt.step + 3);
    await assertHistoryConsistent(sft, ckpt.step + 3);
    assert.deepEqual(await fs.readFile(path.join(base, 'state.json')), parentState, 'the parent changed');
  });
});
