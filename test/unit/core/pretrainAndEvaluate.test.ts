import { strict as assert } from 'node:assert';
import { existsSync, promises as fs, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMPLETION_EVAL_FILE } from '../../../src/core/complete/modelEval';
import { splitByFile } from '../../../src/core/corpus';
import { heldOutBitsPerByteOfFolder } from '../../../src/core/train/heldOut';
import { pretrainAndEvaluate } from '../../../src/core/train/pretrainAndEvaluate';
import { codeFiles, useWasm } from '../helpers/tf';
import { tinyTrainConfig, tmpDir } from '../helpers/train';

describe('pretrainAndEvaluate: the one train-then-evaluate of the CLI and the worker', function () {
  this.timeout(120_000);
  before(useWasm);
  const files = codeFiles(6);

  it('measures completions on held-out files after a finished budget and saves them next to the model', async () => {
    const outDir = await tmpDir('pretrain-eval');
    const logs: string[] = [];
    const r = await pretrainAndEvaluate({
      files,
      config: tinyTrainConfig({ maxSteps: 2 }),
      outDir,
      hooks: { onLog: (m) => logs.push(m) },
    });
    assert.equal(r.result.stopped, 'budget');
    assert.equal(r.completionsError, undefined);
    assert.ok(r.completions && r.completions.positions > 0);
    const saved = JSON.parse(await fs.readFile(path.join(outDir, COMPLETION_EVAL_FILE), 'utf8'));
    assert.equal(saved.positions, r.completions.positions);
    assert.ok(logs.includes('evaluating completions on held-out files…'));
    // The final held-out figure: the saved model on the run's held-out files, every token, recorded in history.
    const cfg = tinyTrainConfig({ maxSteps: 2 });
    const { train, val } = splitByFile(files, cfg.valFraction, cfg.splitSeed ?? cfg.seed);
    const direct = await heldOutBitsPerByteOfFolder(
      outDir,
      (val.length ? val : train).map((f) => f.bytes),
    );
    assert.ok(r.heldOut && direct);
    assert.equal(r.heldOut.bitsPerByte, direct.bitsPerByte);
    assert.equal(r.heldOut.scoredTokens, r.heldOut.totalTokens);
    const history = (await fs.readFile(path.join(outDir, 'history.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      history.filter((h) => 'heldOutBpb' in h).map((h) => [h.step, h.heldOutBpb]),
      [[2, r.heldOut.bitsPerByte]],
    );
    // Added to the last step's record, not a second record of that step.
    const steps = history.map((h) => h.step);
    assert.deepEqual(
      steps,
      [...new Set(steps)].sort((a, b) => a - b),
      `history steps ${steps}`,
    );
    assert.equal(typeof history.at(-1).valLoss, 'number');

    // A resume whose request holds only a budget is measured with the saved model's shape.
    await fs.rm(path.join(outDir, COMPLETION_EVAL_FILE));
    const resumed = await pretrainAndEvaluate({
      files,
      config: tinyTrainConfig({ maxSteps: 1, model: { ...tinyTrainConfig().model, nLayer: 5 } }),
      outDir,
      resume: true,
    });
    assert.equal(resumed.result.step, 3);
    assert.ok(resumed.completions);
    assert.ok(existsSync(path.join(outDir, COMPLETION_EVAL_FILE)));
  });

  it('skips the check when asked (completions: false) and after Stop', async () => {
    const off = await tmpDir('pretrain-eval');
    const r = await pretrainAndEvaluate({
      files,
      config: tinyTrainConfig({ maxSteps: 1 }),
      outDir: off,
      completions: false,
    });
    assert.equal(r.result.stopped, 'budget');
    assert.equal(r.completions, undefined);
    assert.ok(!existsSync(path.join(off, COMPLETION_EVAL_FILE)));
    assert.ok(r.heldOut, 'the held-out figure is not the completion check');
    const none = await pretrainAndEvaluate({
      files,
      config: tinyTrainConfig({ maxSteps: 1 }),
      outDir: await tmpDir('pretrain-eval'),
      heldOut: false,
    });
    assert.equal(none.heldOut, undefined);

    const stopped = await tmpDir('pretrain-eval');
    let stop = false;
    const s = await pretrainAndEvaluate({
      files,
      config: tinyTrainConfig({ maxSteps: 1000 }),
      outDir: stopped,
      hooks: { shouldStop: () => stop, onProgress: () => (stop = true) },
    });
    assert.equal(s.result.stopped, 'cancelled');
    assert.equal(s.completions, undefined);
    assert.equal(s.heldOut, undefined);
    assert.ok(!existsSync(path.join(stopped, COMPLETION_EVAL_FILE)));
  });

  it('reports a failed check without losing the trained model', async () => {
    const outDir = await tmpDir('pretrain-eval');
    // The saved config is damaged just before the check reads it.
    const onLog = (m: string) => {
      if (m.startsWith('evaluating completions')) writeFileSync(path.join(outDir, 'config.json'), '{');
    };
    const r = await pretrainAndEvaluate({ files, config: tinyTrainConfig({ maxSteps: 1 }), outDir, hooks: { onLog } });
    assert.equal(r.result.stopped, 'budget');
    assert.ok(r.completionsError instanceof Error);
    assert.equal(r.completions, undefined);
    assert.ok(existsSync(path.join(outDir, 'model.safetensors')) || existsSync(path.join(outDir, 'state.json')));
  });
});
