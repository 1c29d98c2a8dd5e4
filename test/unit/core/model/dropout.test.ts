import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { setFastKernels } from '../../../../src/core/kernels';
import { GPTConfig, MODERN_RECIPE } from '../../../../src/core/model/config';
import { dropoutMask, DropoutSpec } from '../../../../src/core/model/dropout';
import { GPT } from '../../../../src/core/model/gpt';
import { Rng } from '../../../../src/core/rng';
import { trainTokenizer } from '../../../../src/core/tokenizer';
import { TrainConfig, validateTrainConfig } from '../../../../src/core/train/config';
import { buildDataset } from '../../../../src/core/train/data';
import { PretrainTask } from '../../../../src/core/train/pretrainTask';
import { pretrain } from '../../../../src/core/train/trainer';
import { assertGradientsMatch } from '../../helpers/gradcheck';
import { codeFiles, TINY, useWasm } from '../../helpers/tf';
import { tinyTrainConfig, tmpDir } from '../../helpers/train';

const MODERN: GPTConfig = { ...TINY, ...MODERN_RECIPE, zeroInitProj: false }; // non-zero projections: every path carries gradient

function ids(B: number, T: number, V: number, offset = 0): Int32Array {
  return Int32Array.from({ length: B * T }, (_, i) => (i * 7 + offset * 13 + 3) % V);
}

function lossOf(m: GPT, B: number, T: number, spec?: DropoutSpec): number {
  return tf.tidy(() => {
    const x = tf.tensor2d(ids(B, T, m.config.vocabSize), [B, T], 'int32');
    const y = tf.tensor2d(ids(B, T, m.config.vocabSize, 1), [B, T], 'int32');
    return m.loss(x, y, undefined, spec).dataSync()[0];
  });
}

function modernRun(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return tinyTrainConfig({
    model: { vocabSize: 300, contextLength: 32, nEmbd: 32, nLayer: 2, nHead: 2, ...MODERN_RECIPE },
    optimizer: 'muon',
    schedule: 'wsd',
    ...overrides,
  });
}

describe('dropout (training only)', function () {
  this.timeout(120_000);
  before(useWasm);

  it('masks: about `rate` zeros, the rest 1/(1 − rate); a shard from row r draws the whole batch’s rows from r', () => {
    const spec = { rate: 0.25, seed: 99 };
    const whole = dropoutMask(spec, 3, 4, 64, 32);
    const zeros = whole.filter((v) => v === 0).length / whole.length;
    assert.ok(Math.abs(zeros - 0.25) < 0.02, `share of zeros ${zeros}`);
    assert.ok(whole.every((v) => v === 0 || v === Math.fround(1 / 0.75)));
    const shard = dropoutMask({ ...spec, firstRow: 2 }, 3, 2, 64, 32);
    assert.deepEqual(shard, whole.subarray(2 * 64 * 32));
    assert.notDeepEqual(dropoutMask(spec, 4, 4, 64, 32), whole, 'each mask index its own');
    assert.notDeepEqual(dropoutMask({ ...spec, seed: 100 }, 3, 4, 64, 32), whole, 'each seed its own');
  });

  it('rate 0 computes exactly the loss without dropout; a rate changes it, the same seed alike, on both paths', () => {
    for (const cfg of [TINY, MODERN]) {
      const m = GPT.create(cfg, 2);
      try {
        const plain = lossOf(m, 2, 12);
        assert.equal(lossOf(m, 2, 12, { rate: 0, seed: 5 }), plain);
        const dropped = lossOf(m, 2, 12, { rate: 0.3, seed: 5 });
        assert.notEqual(dropped, plain);
        assert.equal(lossOf(m, 2, 12, { rate: 0.3, seed: 5 }), dropped);
        assert.notEqual(lossOf(m, 2, 12, { rate: 0.3, seed: 6 }), dropped);
        setFastKernels(false);
        try {
          assert.ok(Math.abs(lossOf(m, 2, 12, { rate: 0.3, seed: 5 }) - dropped) < 1e-4, 'reference path');
        } finally {
          setFastKernels(true);
        }
      } finally {
        m.dispose();
      }
    }
  });

  it('is refused with a KV cache (generation never drops)', () => {
    const m = GPT.create(TINY, 1);
    try {
      assert.throws(
        () =>
          tf.tidy(
            () =>
              m.forward(tf.tensor2d([1], [1, 1], 'int32'), {
                cache: { layers: [], length: 0 },
                dropout: { rate: 0.1, seed: 1 },
              }).logits,
          ),
        /dropout/,
      );
    } finally {
      m.dispose();
    }
  });

  for (const [label, cfg] of [
    ['GPT-2', TINY],
    ['modern (fused soft-cap cross-entropy, QK-norm and rotary)', MODERN],
  ] as const) {
    it(`${label}: gradients with a fixed mask agree with finite differences; an all-ones mask gives the plain gradients`, () => {
      const c: GPTConfig = { ...cfg, vocabSize: 20, contextLength: 6, nEmbd: 8, nLayer: 2, nHead: 2 };
      const m = GPT.create(c, 5);
      const x = tf.tensor2d(ids(2, 6, 20), [2, 6], 'int32');
      const y = tf.tensor2d(ids(2, 6, 20, 3), [2, 6], 'int32');
      try {
        const spec = { rate: 0.3, seed: 11 };
        const { value, grads } = tf.variableGrads(() => m.loss(x, y, undefined, spec));
        const lossAt = () => tf.tidy(() => m.loss(x, y, undefined, spec).dataSync()[0]);
        const names = [...m.params.keys()].filter((n) =>
          ['wte.weight', 'h.0.attn.c_proj.weight', 'h.0.mlp.c_proj.weight', 'h.1.mlp.c_fc.weight'].includes(n),
        );
        assertGradientsMatch(m, grads, names, lossAt, 3e-3);
        tf.dispose([value, ...Object.values(grads)]);

        // A rate too small to drop anything: masks of ones, so exactly the plain path's gradients.
        const ones = tf.variableGrads(() => m.loss(x, y, undefined, { rate: 1e-12, seed: 11 }));
        const plain = tf.variableGrads(() => m.loss(x, y));
        assert.equal(ones.value.dataSync()[0], plain.value.dataSync()[0]);
        for (const k of Object.keys(plain.grads)) {
          assert.deepEqual(ones.grads[k].dataSync(), plain.grads[k].dataSync(), k);
        }
        tf.dispose([ones.value, plain.value, ...Object.values(ones.grads), ...Object.values(plain.grads)]);
      } finally {
        tf.dispose([x, y]);
        m.dispose();
      }
    });
  }

  it('a task with dropout: training losses change, evaluation of the same weights does not', async () => {
    const files = codeFiles(4);
    const bytes = files.map((f) => f.bytes);
    const tokenizer = trainTokenizer(bytes, { vocabSize: 300 });
    const data = buildDataset(tokenizer, bytes, bytes, { fimRate: 0, seed: 1, fimChunkTokens: 16 });
    const cfg = modernRun();
    cfg.model.vocabSize = tokenizer.vocabSize;
    const m = GPT.create({ ...cfg.model, zeroInitProj: false }, 3);
    try {
      const plainTask = new PretrainTask(m, tokenizer, data, cfg);
      const dropTask = new PretrainTask(m, tokenizer, data, { ...cfg, dropout: 0.2 });
      const plainBatch = plainTask.nextBatch(new Rng(4));
      const dropBatch = dropTask.nextBatch(new Rng(4));
      assert.equal(plainBatch.dropoutSeed, undefined, 'no dropout draws nothing more from the run’s generator');
      assert.equal(typeof dropBatch.dropoutSeed, 'number');
      assert.deepEqual(dropBatch.x, plainBatch.x);
      const train = (t: PretrainTask, b: typeof plainBatch) => tf.tidy(() => t.loss(b).loss.dataSync()[0]);
      assert.notEqual(train(dropTask, dropBatch), train(plainTask, plainBatch));
      assert.deepEqual(await dropTask.evaluate(), await plainTask.evaluate());
    } finally {
      m.dispose();
    }
  });

  it('dropout 0 trains exactly as without the option; 0.2 trains differently and resumes exactly', async () => {
    const files = codeFiles(4);
    const plain = await pretrain({ files, config: modernRun(), outDir: await tmpDir('dropout') });
    const zero = await pretrain({ files, config: modernRun({ dropout: 0 }), outDir: await tmpDir('dropout') });
    assert.deepEqual(zero.losses, plain.losses);
    assert.equal(zero.valLoss, plain.valLoss);

    const full = await pretrain({ files, config: modernRun({ dropout: 0.2 }), outDir: await tmpDir('dropout') });
    assert.notDeepEqual(full.losses, plain.losses);
    const dir = await tmpDir('dropout');
    let steps = 0;
    const first = await pretrain({
      files,
      config: modernRun({ dropout: 0.2 }),
      outDir: dir,
      hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
    });
    const rest = await pretrain({
      files,
      config: { ...modernRun({ dropout: 0.2 }), maxSteps: undefined },
      outDir: dir,
      resume: true,
    });
    assert.deepEqual([...first.losses, ...rest.losses], full.losses);
    assert.equal(rest.valLoss, full.valLoss);
  });

  it('with 2 data-parallel replicas: the same losses as one thread (each shard drops its rows’ units)', async () => {
    const files = codeFiles(4);
    const cfg = () => modernRun({ dropout: 0.2, batchSize: 6, maxSteps: 4, learningRate: 1e-2 });
    const one = await pretrain({ files, config: cfg(), outDir: await tmpDir('dropout'), replicas: 1 });
    const logs: string[] = [];
    const two = await pretrain({
      files,
      config: cfg(),
      outDir: await tmpDir('dropout'),
      replicas: 2,
      hooks: { onLog: (m) => logs.push(m) },
    });
    assert.ok(
      logs.some((l) => l.includes('2 replicas')),
      logs.join('\n'),
    );
    const plain = await pretrain({
      files,
      config: { ...cfg(), dropout: undefined },
      outDir: await tmpDir('dropout'),
      replicas: 2,
    });
    two.losses.forEach((l, i) =>
      assert.ok(Math.abs(l - one.losses[i]) < 1e-4, `step ${i + 1}: ${l} vs ${one.losses[i]}`),
    );
    assert.ok(Math.abs(two.valLoss - one.valLoss) < 1e-4);
    assert.ok(Math.abs(plain.losses[1] - two.losses[1]) > 1e-3, 'the replicas dropped units');
  });

  it('validates the rate', () => {
    assert.throws(() => validateTrainConfig(modernRun({ dropout: 1 })), /dropout/);
    assert.throws(() => validateTrainConfig(modernRun({ dropout: -0.1 })), /dropout/);
    assert.throws(() => validateTrainConfig(modernRun({ muonWeightDecay: -1 })), /muonWeightDecay/);
  });
});
