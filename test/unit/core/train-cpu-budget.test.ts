import { strict as assert } from 'node:assert';
import { loadCheckpoint } from '../../../src/core/checkpoint';
import type { LoopState } from '../../../src/core/train/loop';
import { pretrain } from '../../../src/core/train/trainer';
import { runCli } from '../cli/run';
import { codeFiles, useWasm } from '../helpers/tf';
import { tinyTrainConfig, tmpDir } from '../helpers/train';

/** A model small enough that a fraction of a CPU-second holds many steps. */
const micro = {
  vocabSize: 280,
  contextLength: 16,
  nEmbd: 16,
  nLayer: 1,
  nHead: 2,
  positionEncoding: 'learned' as const,
};

describe('a CPU-time budget', () => {
  before(useWasm);

  it('stops a run by the process CPU time, and the warm-up/stable/decay schedule decays to its end', async () => {
    const dir = await tmpDir('cpu-budget');
    const lrs: number[] = [];
    const peak = 4e-3;
    // A step budget far beyond reach: only the CPU budget can end the run and drive the decay.
    const config = tinyTrainConfig({
      model: micro,
      batchSize: 2,
      maxSteps: 1e7,
      maxCpuMinutes: 0.02,
      schedule: 'wsd',
      decayFraction: 0.5,
      learningRate: peak,
      minLearningRate: peak / 10,
      warmupSteps: 2,
      evalInterval: 1e6,
    });
    const r = await pretrain({
      files: codeFiles(3),
      config,
      outDir: dir,
      replicas: 1,
      hooks: { onProgress: (p) => lrs.push(p.lr) },
    });
    assert.equal(r.stopped, 'budget');
    assert.ok(r.step > 2 && r.step < 1e7, `steps ${r.step}`);
    const state = (await loadCheckpoint(dir)).trainer as unknown as LoopState;
    assert.equal(state.target.cpuMs, 0.02 * 60_000);
    assert.ok(state.cpuMs! >= state.target.cpuMs!, `CPU ${state.cpuMs} ms of ${state.target.cpuMs}`);
    // After warm-up: the peak, then a decay that ends well below it (the step budget alone would keep the peak).
    const after = lrs.slice(2);
    assert.equal(after[0], peak);
    for (let i = 1; i < after.length; i++) assert.ok(after[i] <= after[i - 1], `lr rose at step ${i + 2}`);
    assert.ok(after[after.length - 1] < peak, `last lr ${after[after.length - 1]}`);
    assert.ok(
      after.some((lr) => lr > peak / 10 && lr < peak),
      'no step inside the decay',
    );
  });

  it('the experiment runner refuses a CPU budget with replicas (it counts every thread)', async () => {
    const saved = process.env.GPT_LAB_REPLICAS;
    process.env.GPT_LAB_REPLICAS = '2';
    try {
      const r = await runCli(['experiment', '.', '--cpu-minutes', '1']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /--cpu-minutes measures one training thread/);
    } finally {
      if (saved === undefined) delete process.env.GPT_LAB_REPLICAS;
      else process.env.GPT_LAB_REPLICAS = saved;
    }
  });
});
