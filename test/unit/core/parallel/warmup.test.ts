import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { GPT } from '../../../../src/core/model/gpt';
import type { Batch } from '../../../../src/core/train/data';
import { buildOptimizer } from '../../../../src/core/train/loop';
import { ReplicaPool, ReplicaWarmup } from '../../../../src/core/train/parallel/pool';
import { pretrainLoss } from '../../../../src/core/train/pretrainTask';
import type { TrainTask } from '../../../../src/core/train/task';
import { warmsUp, warmUp, WARMUP } from '../../../../src/core/train/parallel/warmup';
import { useWasm } from '../../helpers/tf';
import { tinyTrainConfig } from '../../helpers/train';

const CONFIG_A = { vocabSize: 512, contextLength: 64, nEmbd: 64, nLayer: 2, nHead: 4, positionEncoding: 'learned' };
const CONFIG_B = { vocabSize: 2048, contextLength: 128, nEmbd: 128, nLayer: 4, nHead: 4, positionEncoding: 'learned' };

function bytesOf(weights: Map<string, Float32Array>): Buffer {
  return Buffer.concat([...weights.values()].map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength)));
}

/** Weights (every replica's) and optimizer state after 4 steps on 2 replicas, the pool warmed as asked. */
async function trainedBytes(warmup: ReplicaWarmup, dropout: number): Promise<Buffer[]> {
  const cfg = tinyTrainConfig({ batchSize: 5, dropout, optimizer: 'adamw' });
  const model = GPT.create(cfg.model, 11);
  const opt = buildOptimizer(model.params, cfg);
  const pool = new ReplicaPool(2, cfg, { warmup });
  const task = { loss: (b: Batch) => ({ loss: pretrainLoss(model, b, dropout) }) } as unknown as TrainTask<Batch>;
  const T = cfg.model.contextLength;
  try {
    await pool.start(model, model.params, opt);
    for (let s = 0; s < 4; s++) {
      const x = Int32Array.from({ length: 5 * T }, (_, i) => (i * 31 + s * 7) % cfg.model.vocabSize);
      const y = Int32Array.from({ length: 5 * T }, (_, i) => (i * 17 + s) % cfg.model.vocabSize);
      await pool.step(task, { x, y, B: 5, T, dropoutSeed: 100 + s }, 1e-2, 1);
    }
    const snaps = await pool.snapshot();
    return [bytesOf(model.weights()), bytesOf(opt.state()), bytesOf(snaps.get(1)!.weights)];
  } finally {
    await pool.dispose();
    opt.dispose();
    model.dispose();
  }
}

describe('data-parallel replicas: warm-up at start', function () {
  this.timeout(120_000);
  before(useWasm);

  it('warms small models only: a shard of config A is warmed, of config B not', () => {
    assert.equal(warmsUp(CONFIG_A as never, 8), true);
    assert.equal(warmsUp(CONFIG_B as never, 8), false);
  });

  it('runs throwaway passes, mostly on a few rows, the last on the full shard, changing no weight', () => {
    const cfg = tinyTrainConfig();
    const model = GPT.create(cfg.model, 3);
    const before = model.weights();
    const tensors = tf.memory().numTensors;
    const rows: number[] = [];
    const loss = (b: Batch) => {
      rows.push(b.B);
      return pretrainLoss(model, b, 0.1);
    };
    try {
      const passes = warmUp(loss, 6, cfg.model.contextLength, { ...WARMUP, passes: 5, ms: 60_000 });
      assert.equal(passes, 5);
      assert.deepEqual(rows, [WARMUP.rows, WARMUP.rows, WARMUP.rows, WARMUP.rows, 6]);
      const capped = warmUp(loss, 6, cfg.model.contextLength, { ...WARMUP, passes: 1000, ms: 0 });
      assert.equal(capped, 1, 'out of time: only the pass at the full shape');
      assert.equal(tf.memory().numTensors, tensors, 'leaked tensors');
      assert.ok(bytesOf(model.weights()).equals(bytesOf(before)), 'a warm-up pass changed the weights');
    } finally {
      model.dispose();
    }
  });

  it('trains to the same bits with the warm-up as without (weights, optimizer state, the other replica)', async () => {
    assert.ok(warmsUp(tinyTrainConfig().model, 3), 'the test model must be one the pool warms');
    // With dropout: its masks are drawn from the step's seed, which a warm-up pass must not disturb either.
    const warm = await trainedBytes('all', 0.2);
    const cold = await trainedBytes('none', 0.2);
    warm.forEach((b, i) => assert.ok(b.equals(cold[i]), `part ${i} differs`));
  });
});
