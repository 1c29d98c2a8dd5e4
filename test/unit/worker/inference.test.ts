import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMPLETION_EVAL_FILE } from '../../../src/core/complete/modelEval';
import { defaultTrainConfig } from '../../../src/core/train/config';
import { pretrain } from '../../../src/core/train/trainer';
import { complete, disposeModel, inspect } from '../../../src/worker/inference';
import { codeFiles, numTensors, useWasm } from '../helpers/tf';

describe('inference worker: a new checkpoint while a completion runs', function () {
  this.timeout(120_000);
  let dir: string;

  before(async () => {
    await useWasm();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-inference-'));
    // A context of 256 allows 128 new tokens: a completion long enough to be mid-way when the swap comes.
    await pretrain({
      files: codeFiles(4),
      outDir: dir,
      config: defaultTrainConfig('tiny', {
        model: { vocabSize: 300, contextLength: 256, nEmbd: 32, nLayer: 2, nHead: 2, positionEncoding: 'learned' },
        batchSize: 1,
        maxMinutes: undefined,
        maxSteps: 1,
        evalBatches: 1,
        fimRate: 0,
      }),
    });
  });

  after(() => disposeModel());

  it('finishes the completion on the model it started with, then frees that model', async () => {
    const text = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n';
    const baseline = numTensors();
    await inspect({ modelDir: dir, text }); // the first checkpoint is loaded
    const loaded = numTensors();
    let settled = false;
    const running = complete(1, { modelDir: dir, prefix: text, suffix: '', maxTokens: 128, multiline: true }).finally(
      () => (settled = true),
    );
    // Generation yields once a token (setImmediate): a few turns of the event loop put it a few tokens in, on a
    // machine of any speed (a wall-clock wait let the faster decoder finish first).
    for (let i = 0; i < 6; i++) await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'the completion ended before the new checkpoint arrived: nothing was tested');
    // Training writes its completion figures: the worker reloads the model for the next request.
    await fs.writeFile(path.join(dir, COMPLETION_EVAL_FILE), JSON.stringify({ mode: 'prefix' }));
    await inspect({ modelDir: dir, text });
    const r = await running; // before the fix: "Tensor is disposed"
    assert.ok(r.tokens > 6, `${r.tokens} tokens`);
    assert.equal(numTensors(), loaded, 'exactly one model is held once the completion is done');
    disposeModel();
    assert.equal(numTensors(), baseline);
  });
});
