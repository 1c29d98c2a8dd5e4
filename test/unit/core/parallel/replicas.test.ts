import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../../../../src/core/model/persist';
import { GPT } from '../../../../src/core/model/gpt';
import { defaultTrainConfig, TrainConfig } from '../../../../src/core/train/config';
import type { Batch } from '../../../../src/core/train/data';
import type { TrainTask } from '../../../../src/core/train/task';
import { buildOptimizer } from '../../../../src/core/train/loop';
import { ReplicaPool } from '../../../../src/core/train/parallel/pool';
import { replicaCount, replicasFromEnv } from '../../../../src/core/train/parallel/replicas';
import { pretrain } from '../../../../src/core/train/trainer';
import { replicasText } from '../../../../src/protocol/lossPanel';
import { codeFiles, useWasm } from '../../helpers/tf';
import { tinyTrainConfig } from '../../helpers/train';

/** The shared tiny run, evaluated every 3 of its 6 steps, at a learning rate that moves the weights visibly. */
function config(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return tinyTrainConfig({
    batchSize: 4,
    maxSteps: 6,
    evalInterval: 3,
    logInterval: 1,
    learningRate: 1e-2,
    ...overrides,
  });
}

const tmpDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-replicas-'));

/**
 * A stand-in replica worker's start: it says it is ready, and `atFirstStep(f)` runs f once replica 0 starts the
 * first step (CTL.seq, the shared buffer's first word, moves), so that it fails mid-run, never during the start.
 */
const AT_FIRST_STEP = `const { parentPort, workerData } = require('node:worker_threads');
const ctl = new Int32Array(workerData.buffer, 0, 1);
const seen = Atomics.load(ctl, 0); // before 'ready': replica 0 may start the step as soon as it hears it
const atFirstStep = (f) => { Atomics.wait(ctl, 0, seen); f(); };
parentPort.postMessage({ type: 'ready' });`;

describe('data-parallel replicas: count, resume, failures', function () {
  this.timeout(120_000);
  before(useWasm);

  it('auto gives replicas only to models with enough work per step, never more than cores or rows', () => {
    const tiny = defaultTrainConfig('tiny');
    const small = defaultTrainConfig('small');
    assert.equal(replicaCount(tiny, 'auto', 2), 2, 'the tiny preset has ~2 GFLOP a step: offered to both cores');
    const micro = { ...tiny, model: { ...tiny.model, nEmbd: 32, vocabSize: 256 } };
    assert.equal(replicaCount(micro, 'auto', 2), 1, 'a step of mostly per-op overhead stays on one thread');
    assert.equal(replicaCount(small, 'auto', 2), 2);
    assert.equal(replicaCount(small, 'auto', 64), small.batchSize, 'no replica without rows');
    assert.equal(replicaCount(tiny, 2, 2), 2, 'an explicit count is honoured');
    assert.equal(replicaCount(tiny, 8, 2), 2, 'but not beyond the cores');
    assert.equal(replicaCount(tiny, 1, 16), 1);
    assert.equal(replicasFromEnv(undefined), 1);
    assert.equal(replicasFromEnv('auto'), 'auto');
    assert.equal(replicasFromEnv('3'), 3);
    assert.equal(replicasFromEnv('zero'), 1);
  });

  it('resumes under another replica count as an uninterrupted run would train', async () => {
    const files = codeFiles(4);
    const full = await pretrain({ files, config: config(), outDir: await tmpDir(), replicas: 1 });
    for (const [first, then] of [
      [2, 1],
      [1, 2],
    ]) {
      const dir = await tmpDir();
      let steps = 0;
      const a = await pretrain({
        files,
        config: config(),
        outDir: dir,
        replicas: first,
        hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
      });
      assert.equal(a.stopped, 'cancelled');
      const b = await pretrain({
        files,
        config: { ...config(), maxSteps: undefined },
        outDir: dir,
        resume: true,
        replicas: then,
      });
      assert.equal(b.step, 6);
      const losses = [...a.losses, ...b.losses];
      losses.forEach((l, i) => assert.ok(Math.abs(l - full.losses[i]) < 1e-4, `${first}→${then}, step ${i + 1}`));
      const { model } = await loadModel(dir);
      model.dispose();
    }
  });

  it('trains on one thread, and says why, when the replicas cannot start', async () => {
    const logs: string[] = [];
    const replicas: number[] = [];
    const broken = ReplicaPool.prototype.start;
    ReplicaPool.prototype.start = function (model, params, opt) {
      return broken.call(this, model, params, opt, path.join(os.tmpdir(), 'no-such-replica-worker.js'));
    };
    try {
      const r = await pretrain({
        files: codeFiles(4),
        config: config({ maxSteps: 2 }),
        replicas: 2,
        hooks: { onLog: (m) => logs.push(m), onProgress: (p) => replicas.push(p.replicas ?? NaN) },
      });
      assert.equal(r.step, 2);
    } finally {
      ReplicaPool.prototype.start = broken;
    }
    assert.ok(
      logs.some((l) => /data parallel unavailable .*replica 1 failed/.test(l)),
      logs.join('\n'),
    );
    assert.deepEqual(replicas, [1, 1]);
  });

  it('fails the step, naming the replica, when a replica thread dies mid-run', async () => {
    const dir = await tmpDir();
    const script = path.join(dir, 'dies.js');
    // Says it is ready, then exits when its first step starts: replica 0 must not wait for it forever.
    await fs.writeFile(script, `${AT_FIRST_STEP} atFirstStep(() => process.exit(3));`);
    const cfg = config();
    const model = GPT.create(cfg.model, 1);
    const opt = buildOptimizer(model.params, cfg);
    const pool = new ReplicaPool(2, cfg);
    try {
      await pool.start(model, model.params, opt, script);
      const T = cfg.model.contextLength;
      const batch = { x: new Int32Array(4 * T), y: new Int32Array(4 * T), B: 4, T };
      const task = {
        loss: (b: Batch) => ({
          loss: model.loss(tf.tensor2d(b.x, [b.B, b.T], 'int32'), tf.tensor2d(b.y, [b.B, b.T], 'int32')),
        }),
      } as unknown as TrainTask<Batch>;
      await assert.rejects(pool.step(task, batch, 1e-3, 1), /replica 1 failed: its thread exited \(code 3\)/);
    } finally {
      await pool.dispose();
      opt.dispose();
      model.dispose();
    }
  });

  it('reports a replica that ran out of memory as OUT_OF_MEMORY, with what to change', async () => {
    const dir = await tmpDir();
    const script = path.join(dir, 'oom.js');
    // wasm reports an exhausted heap as a bare "Aborted()": the replica passes it on, as a real one does.
    await fs.writeFile(
      script,
      `${AT_FIRST_STEP} atFirstStep(() => parentPort.postMessage({ type: 'failed', message: 'Aborted(). Build with -sASSERTIONS for more info.' }));`,
    );
    const real = ReplicaPool.prototype.start;
    ReplicaPool.prototype.start = function (model, params, opt) {
      return real.call(this, model, params, opt, script);
    };
    try {
      await assert.rejects(
        pretrain({ files: codeFiles(4), config: config({ maxSteps: 50 }), replicas: 2 }),
        (err: Error & { code?: string }) =>
          err.code === 'OUT_OF_MEMORY' && /replica 1 failed: Aborted/.test(err.message),
      );
    } finally {
      ReplicaPool.prototype.start = real;
    }
  });

  it('reads as "2 replicas · all-reduce 3.1 ms/step", and not at all on one thread', () => {
    assert.equal(replicasText({ replicas: 2, allReduceMs: 3.14 }), '2 replicas · all-reduce 3.1 ms/step');
    assert.equal(replicasText({ replicas: 4, allReduceMs: 25.4 }), '4 replicas · all-reduce 25 ms/step');
    assert.equal(replicasText({ replicas: 1, allReduceMs: 0 }), undefined);
    assert.equal(replicasText({}), undefined);
  });
});
