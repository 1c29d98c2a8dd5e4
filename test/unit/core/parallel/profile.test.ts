import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { GPT } from '../../../../src/core/model/gpt';
import type { Batch } from '../../../../src/core/train/data';
import { buildOptimizer } from '../../../../src/core/train/loop';
import { ReplicaPool } from '../../../../src/core/train/parallel/pool';
import { MARK, PHASES, profileWords, summarize } from '../../../../src/core/train/parallel/profile';
import type { TrainTask } from '../../../../src/core/train/task';
import { useWasm } from '../../helpers/tf';
import { tinyTrainConfig } from '../../helpers/train';

/** Marks for `replicas` replicas over `steps` steps: replica r arrives at the barrier `late(r, s)` ms after 10. */
function syntheticRegion(replicas: number, steps: number, late: (r: number, s: number) => number): Float64Array {
  const words = profileWords(replicas, steps) / (replicas * steps);
  const region = new Float64Array(profileWords(replicas, steps));
  for (let r = 0; r < replicas; r++) {
    for (let s = 0; s < steps; s++) {
      const at = (r * steps + s) * words;
      const t = 100 * s + 0.5 * r; // each step 100 ms after the last; replica r sees it 0.5 ms after replica 0
      const written = 100 * s + 10 + late(r, s);
      const marks = [t, t + 1, t + 8, t + 9, written, 100 * s + 20, 100 * s + 21, 100 * s + 22, 100 * s + 25];
      marks.forEach((m, i) => (region[at + i] = m));
      region[at + MARK.size] = 20; // cpu
      region[at + MARK.size + 1] = 1; // run queue
    }
  }
  return region;
}

describe('data-parallel replicas: phase profile', function () {
  this.timeout(120_000);
  before(useWasm);

  it('summarises marks: phase medians, who arrives late and how late, wake-up delay', () => {
    // Replica 1 arrives 3 ms after replica 0 in every step but step 2, where replica 0 is 1 ms later.
    const region = syntheticRegion(2, 6, (r, s) => (s === 2 ? (r === 0 ? 1 : 0) : r === 1 ? 3 : 0));
    const sum = summarize(region, 2, 6, 1, 6);
    assert.equal(sum.steps, 5);
    assert.deepEqual(sum.lastToArrive, [1, 4]);
    assert.deepEqual(sum.arrivesLateMs, [0, 3]);
    assert.deepEqual(sum.wakeMs, [0.5]);
    const r0 = sum.medianMs[0];
    assert.deepEqual(Object.keys(r0), PHASES);
    assert.equal(r0.between, 75); // 100 ms apart, 25 ms a step
    assert.equal(r0.fwdBwd, 7);
    assert.equal(r0.write, 1); // written at t + 10
    assert.equal(r0.barrier, 10); // released at 20
    assert.equal(r0.optimizer, 3);
    assert.equal(r0.cpu, 20);
    assert.equal(r0.runQueue, 1);
  });

  it('profiles a real pool: every replica marks every phase of every step, in order', async () => {
    const cfg = tinyTrainConfig({ batchSize: 4 });
    const model = GPT.create(cfg.model, 2);
    const opt = buildOptimizer(model.params, cfg);
    const pool = new ReplicaPool(2, cfg, { profileSteps: 16, warmup: 'none' });
    const T = cfg.model.contextLength;
    const task = {
      loss: (b: Batch) => ({
        loss: model.loss(tf.tensor2d(b.x, [b.B, T], 'int32'), tf.tensor2d(b.y, [b.B, T], 'int32')),
      }),
    } as unknown as TrainTask<Batch>;
    try {
      await pool.start(model, model.params, opt);
      assert.equal(new ReplicaPool(2, cfg).profile(), undefined, 'no profile unless asked');
      for (let s = 0; s < 8; s++) {
        const x = Int32Array.from({ length: 4 * T }, (_, i) => (i + s) % cfg.model.vocabSize);
        await pool.step(task, { x, y: x, B: 4, T }, 1e-3, 1);
      }
      const p = pool.profile(2)!;
      assert.equal(p.steps, 5, 'steps 2..6: the last is left out');
      assert.equal(p.medianMs.length, 2);
      for (const phases of p.medianMs) {
        for (const name of PHASES.filter((n) => n !== 'cpu' && n !== 'runQueue')) {
          assert.ok(phases[name] >= 0, `${name}: ${phases[name]}`);
        }
        assert.ok(phases.fwdBwd > 0);
      }
      assert.equal(p.lastToArrive[0] + p.lastToArrive[1], 5);
      assert.ok(p.wakeMs[0] >= 0);
    } finally {
      await pool.dispose();
      opt.dispose();
      model.dispose();
    }
  });
});
