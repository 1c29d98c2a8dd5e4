import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../../../../src/core/model/persist';
import { GPT } from '../../../../src/core/model/gpt';
import { Rng } from '../../../../src/core/rng';
import type { TrainConfig } from '../../../../src/core/train/config';
import { sampleBatch } from '../../../../src/core/train/data';
import { buildOptimizer, optimizerStep } from '../../../../src/core/train/loop';
import { ReplicaPool } from '../../../../src/core/train/parallel/pool';
import { pretrain } from '../../../../src/core/train/trainer';
import { PretrainTask } from '../../../../src/core/train/pretrainTask';
import { buildDataset } from '../../../../src/core/train/data';
import { trainTokenizer } from '../../../../src/core/tokenizer';
import { codeFiles, useWasm } from '../../helpers/tf';
import { tinyTrainConfig } from '../../helpers/train';

/** The shared tiny run, evaluated every 3 of its 6 steps, at a learning rate that moves the weights visibly. */
function config(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return tinyTrainConfig({
    batchSize: 6,
    maxSteps: 6,
    evalInterval: 3,
    logInterval: 1,
    learningRate: 1e-2,
    ...overrides,
  });
}

const tmpDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-parallel-'));

/** Largest |a - b| over every weight of two models. */
function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let d = 0;
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}

function bitwiseEqual(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  for (const [name, x] of a) {
    const y = b.get(name)!;
    if (
      Buffer.compare(
        Buffer.from(x.buffer, x.byteOffset, x.byteLength),
        Buffer.from(y.buffer, y.byteOffset, y.byteLength),
      ) !== 0
    )
      return false;
  }
  return true;
}

describe('data parallelism (replicas in worker threads)', function () {
  this.timeout(120_000);
  before(useWasm);

  it('trains to the same losses and weights with 2 replicas as with 1 (float tolerance)', async () => {
    const files = codeFiles(4);
    const dirs = [await tmpDir(), await tmpDir()];
    const logs: string[] = [];
    const progress: { replicas?: number; allReduceMs?: number }[] = [];
    const before = tf.memory().numTensors;
    const one = await pretrain({ files, config: config(), outDir: dirs[0], replicas: 1 });
    const two = await pretrain({
      files,
      config: config(),
      outDir: dirs[1],
      replicas: 2,
      hooks: { onLog: (m) => logs.push(m), onProgress: (p) => progress.push(p) },
    });
    assert.equal(tf.memory().numTensors, before, 'leaked tensors');
    assert.ok(
      logs.some((l) => l.includes('2 replicas')),
      logs.join('\n'),
    );
    assert.ok(progress.every((p) => p.replicas === 2 && p.allReduceMs! > 0));
    assert.equal(two.losses.length, 6);
    two.losses.forEach((l, i) =>
      assert.ok(Math.abs(l - one.losses[i]) < 1e-4, `step ${i + 1}: ${l} vs ${one.losses[i]}`),
    );
    assert.ok(one.losses[5] < one.losses[0] - 0.5, 'the run must learn for the comparison to mean anything');
    assert.ok(Math.abs(two.valLoss - one.valLoss) < 1e-4);
    const [a, b] = await Promise.all(dirs.map((d) => loadModel(d)));
    const d = maxDiff(a.model.weights(), b.model.weights());
    a.model.dispose();
    b.model.dispose();
    assert.ok(d < 1e-4, `weights differ by ${d}`);
  });

  it('keeps every replica bitwise equal to the loop thread, and each step equal to one thread on the whole batch', async () => {
    const cfg = config({ batchSize: 5 }); // rows split 2 / 3: the average is weighted by tokens
    const tokenizer = trainTokenizer(
      codeFiles(4).map((f) => f.bytes),
      { vocabSize: 300 },
    );
    const bytes = codeFiles(4).map((f) => f.bytes);
    const data = buildDataset(tokenizer, bytes, bytes, { fimRate: 0, seed: 1, fimChunkTokens: 16 });
    cfg.model.vocabSize = tokenizer.vocabSize;
    const parallelModel = GPT.create(cfg.model, 7);
    const singleModel = GPT.create(cfg.model, 7);
    const task = new PretrainTask(parallelModel, tokenizer, data, cfg);
    const single = new PretrainTask(singleModel, tokenizer, data, cfg);
    const opt = buildOptimizer(parallelModel.params, cfg);
    const opt1 = buildOptimizer(singleModel.params, cfg);
    const pool = new ReplicaPool(3, cfg);
    try {
      await pool.start(parallelModel, parallelModel.params, opt);
      const rng = new Rng(3);
      for (let s = 0; s < 3; s++) {
        const batch = sampleBatch(data.train, cfg.batchSize, cfg.model.contextLength, rng);
        const r = await pool.step(task, batch, 1e-2, 1.0);
        const r1 = optimizerStep(single, opt1, batch, 1e-2, 1.0);
        assert.ok(Math.abs(r.loss - r1.loss) < 1e-5, `loss ${r.loss} vs ${r1.loss}`);
        assert.ok(Math.abs(r.gradNorm - r1.gradNorm) < 1e-4 * r1.gradNorm, `grad norm ${r.gradNorm} vs ${r1.gradNorm}`);
      }
      const main = parallelModel.weights();
      const snaps = await pool.snapshot();
      assert.deepEqual([...snaps.keys()].sort(), [1, 2]);
      for (const [rank, s] of snaps) {
        assert.equal(s.optimizerStep, 3);
        assert.ok(bitwiseEqual(main, s.weights), `replica ${rank} drifted from replica 0`);
      }
      const d = maxDiff(main, singleModel.weights());
      assert.ok(d > 0 && d < 1e-4, `weights differ from one thread's by ${d}`);
    } finally {
      await pool.dispose();
      opt.dispose();
      opt1.dispose();
      parallelModel.dispose();
      singleModel.dispose();
    }
  });
});
