import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel, LoadedModel } from '../../../src/core/model/persist';
import { defaultTrainConfig } from '../../../src/core/train/config';
import { pretrain } from '../../../src/core/train/trainer';
import { rankCompletions } from '../../../src/worker/aligning';
import { codeFiles, numTensors, useWasm } from '../helpers/tf';

describe('worker: completions to rank', function () {
  this.timeout(120_000);
  let dir: string;
  let m: LoadedModel;

  before(async () => {
    await useWasm();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-rank-'));
    await pretrain({
      files: codeFiles(4),
      outDir: dir,
      config: defaultTrainConfig('tiny', {
        model: { vocabSize: 300, contextLength: 64, nEmbd: 16, nLayer: 1, nHead: 2, positionEncoding: 'learned' },
        batchSize: 1,
        maxMinutes: undefined,
        maxSteps: 1,
        evalBatches: 1,
        fimRate: 0,
      }),
    });
    m = await loadModel(dir, { trainable: false });
  });

  after(async () => {
    m?.model.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('samples K distinct, non-empty completions, the same for the same seed, without leaking tensors', async () => {
    const p = { modelDir: dir, prompt: 'export function ', count: 4, temperature: 1, maxTokens: 8, seed: 3 };
    const before = numTensors();
    const a = await rankCompletions(m, p);
    assert.equal(numTensors(), before);
    assert.equal(a.completions.length, 4);
    assert.equal(new Set(a.completions.map((c) => c.trimEnd())).size, 4);
    assert.ok(a.completions.every((c) => c.trim() !== ''));
    assert.deepEqual((await rankCompletions(m, p)).completions, a.completions, 'deterministic for a seed');
    assert.notDeepEqual((await rankCompletions(m, { ...p, seed: 4 })).completions, a.completions);
  });

  it('gives back fewer when the model keeps repeating itself (greedy), after a bounded number of rounds', async () => {
    const r = await rankCompletions(m, {
      modelDir: dir,
      prompt: 'export function ',
      count: 4,
      temperature: 0,
      maxTokens: 4,
      seed: 1,
    });
    assert.equal(r.completions.length, 1);
    assert.equal(r.rounds, 4);
  });
});
