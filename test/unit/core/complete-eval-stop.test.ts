import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { evaluateCompletions, EvaluationStopped } from '../../../src/core/complete/evaluate';
import { COMPLETION_EVAL_FILE, evaluateModelCompletions } from '../../../src/core/complete/modelEval';
import { pretrainAndEvaluate } from '../../../src/core/train/pretrainAndEvaluate';
import { codeFiles, useWasm } from '../helpers/tf';
import { tinyTrainConfig, tmpDir } from '../helpers/train';

describe('completion evaluation stops when asked', function () {
  this.timeout(120_000);
  before(useWasm);

  it('ends at the next position once shouldStop says so, with no figures', async () => {
    const files = [{ path: 'a.ts', text: 'const alpha = beta + gamma;\nlet delta = epsilon * zeta;\n'.repeat(10) }];
    let asked = 0;
    let stop = false;
    const run = evaluateCompletions(
      () => {
        if (++asked === 7) stop = true;
        return 'x';
      },
      files,
      { positions: 50, seed: 3, shouldStop: () => stop },
    );
    await assert.rejects(run, (e: unknown) => e instanceof EvaluationStopped && e.code === 'STOPPED');
    assert.equal(asked, 7, 'no completion was asked for after the stop');
  });

  it('a Stop during the held-out check of a trained model ends it promptly, saving no figures', async () => {
    const outDir = await tmpDir('eval-stop');
    const files = codeFiles(6);
    const trained = await pretrainAndEvaluate({
      files,
      config: tinyTrainConfig({ maxSteps: 2 }),
      outDir,
      completions: false,
    });
    assert.equal(trained.result.stopped, 'budget');
    let asks = 0;
    let asksAfterStop = 0;
    const stopAfter = 40; // asked per position and per generated token: well inside the check
    const shouldStop = () => {
      if (++asks > stopAfter) asksAfterStop++;
      return asks > stopAfter;
    };
    await assert.rejects(evaluateModelCompletions(outDir, files, 100, { shouldStop }), EvaluationStopped);
    assert.ok(!existsSync(path.join(outDir, COMPLETION_EVAL_FILE)), 'partial figures were saved');
    // The generation in flight sees the stop, and the evaluation ends before the next position.
    assert.ok(asksAfterStop >= 1 && asksAfterStop <= 2, `asked ${asksAfterStop} times after the stop`);

    // Not stopped: the same check runs to its end and saves its figures.
    const ev = await evaluateModelCompletions(outDir, files, 10, { shouldStop: () => false });
    assert.equal(ev.positions, 10);
    assert.ok(existsSync(path.join(outDir, COMPLETION_EVAL_FILE)));
  });

  it('pretrainAndEvaluate (the CLI and the worker): a Stop during the check keeps the model, reports no failure', async () => {
    const outDir = await tmpDir('eval-stop');
    let evaluating = false;
    let asks = 0;
    const r = await pretrainAndEvaluate({
      files: codeFiles(6),
      config: tinyTrainConfig({ maxSteps: 2 }),
      outDir,
      hooks: {
        onLog: (m) => (evaluating ||= m.startsWith('evaluating completions')),
        shouldStop: () => evaluating && ++asks > 40,
      },
    });
    assert.ok(evaluating, 'the check started');
    assert.equal(r.result.stopped, 'budget');
    assert.equal(r.completions, undefined);
    assert.equal(r.completionsError, undefined, 'a stop is not a failure');
    assert.ok(!existsSync(path.join(outDir, COMPLETION_EVAL_FILE)), 'partial figures were saved');
    assert.ok(asks > 40 && asks <= 42, `asked ${asks} times`);
  });
});
