import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint, saveCheckpoint } from '../../../src/core/checkpoint';
import { loadModel } from '../../../src/core/model/persist';
import { Rng } from '../../../src/core/rng';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { fimTokens, validationBatches } from '../../../src/core/train/data';
import { learningRate } from '../../../src/core/train/schedule';
import { pretrain } from '../../../src/core/train/trainer';
import { codeFiles, useWasm } from '../helpers/tf';
import { tinyTrainConfig, tmpDir as tmpDirFor } from '../helpers/train';

const config = tinyTrainConfig;

const tmpDir = () => tmpDirFor('train');

describe('pre-training', () => {
  before(useWasm);

  it('lowers the validation loss and saves a loadable model folder with its history', async () => {
    const dir = await tmpDir();
    const before = tf.memory().numTensors;
    const r = await pretrain({ files: codeFiles(), config: config({ maxSteps: 40, learningRate: 1e-2 }), outDir: dir });
    assert.equal(tf.memory().numTensors, before, 'pretrain leaked tensors');
    assert.equal(r.step, 40);
    assert.ok(r.valLoss < r.initialValLoss - 1, `val loss ${r.initialValLoss} → ${r.valLoss}`);
    const { model, checkpoint } = await loadModel(dir);
    model.dispose();
    assert.equal(checkpoint.step, 40);
    const steps = checkpoint.history.map((h) => h.step);
    assert.deepEqual(steps.slice(0, 3), [0, 2, 4]);
    assert.ok(checkpoint.history.some((h) => h.step === 40 && typeof h.valBpb === 'number'));
  });

  it('resumes a cancelled run exactly where an uninterrupted one would be, step for step', async () => {
    const files = codeFiles(4);
    const full = await pretrain({ files, config: config(), outDir: await tmpDir() });

    const dir = await tmpDir();
    let steps = 0;
    const first = await pretrain({
      files,
      config: config(),
      outDir: dir,
      hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
    });
    assert.equal(first.stopped, 'cancelled');
    assert.equal(first.step, 3);
    // No budget on resume: the saved run finishes its own.
    const rest = await pretrain({
      files,
      config: { ...config(), maxSteps: undefined },
      outDir: dir,
      resume: true,
    });
    assert.equal(rest.step, 8);
    assert.deepEqual([...first.losses, ...rest.losses], full.losses);
    assert.equal(rest.valLoss, full.valLoss);
  });

  it('trains a budget given on resume on top of the checkpoint, and applies a new learning rate', async () => {
    const files = codeFiles(3);
    const dir = await tmpDir();
    await pretrain({ files, config: config({ maxSteps: 4 }), outDir: dir });
    const lrs: number[] = [];
    const more = await pretrain({
      files,
      config: config({ maxSteps: 3 }),
      outDir: dir,
      resume: true,
      resumeOverrides: { learningRate: 0.5 },
      hooks: { onProgress: (p) => lrs.push(p.lr) },
    });
    assert.equal(more.step, 7);
    assert.equal(more.losses.length, 3);
    assert.ok(lrs.every((lr) => lr <= 0.5 && lr >= 0.05) && lrs[0] > 0.1, `learning rates ${lrs}`);
    const again = await pretrain({ files, config: { ...config(), maxSteps: undefined }, outDir: dir, resume: true });
    assert.equal(again.step, 7, 'a finished run resumed without a budget trains no further');
    const { checkpoint } = await loadModel(dir).then((m) => (m.model.dispose(), m));
    assert.ok(checkpoint.history.some((h) => h.step === 7));
    assert.equal(checkpoint.history.filter((h) => h.step === 0).length, 1, 'one history across the resumes');
  });

  it('starts a fresh run into a used folder with a clean history', async () => {
    const files = codeFiles(2);
    const dir = await tmpDir();
    await pretrain({ files, config: config({ maxSteps: 4 }), outDir: dir });
    await fs.writeFile(path.join(dir, 'completion-eval.json'), '{}');
    await pretrain({ files, config: config({ maxSteps: 2, seed: 9 }), outDir: dir });
    const { model, checkpoint } = await loadModel(dir);
    model.dispose();
    assert.deepEqual(
      checkpoint.history.map((h) => h.step).filter((s, i, a) => a.indexOf(s) === i),
      [0, 2],
    );
    await assert.rejects(fs.stat(path.join(dir, 'completion-eval.json')));
  });

  it('keeps the learning rate continuous at the end of warm-up in a minutes budget', async () => {
    const lrs: number[] = [];
    await pretrain({
      files: codeFiles(2),
      config: config({ maxSteps: undefined, maxMinutes: 0.02, warmupSteps: 3, learningRate: 1e-3 }),
      hooks: { onProgress: (p) => lrs.push(p.lr) },
    });
    assert.ok(lrs.length > 4, `only ${lrs.length} steps`);
    for (let i = 3; i < lrs.length; i++) {
      assert.ok(lrs[i] <= lrs[i - 1] + 1e-12, `lr rose after warm-up at ${i}: ${lrs}`);
    }
    assert.ok(lrs[3] > 0.9e-3, `the first step after warm-up is near the peak, got ${lrs[3]} (${lrs})`);
  });

  it('is reproducible with a seed and differs with another', async () => {
    const files = codeFiles(3);
    const a = await pretrain({ files, config: config({ maxSteps: 3 }) });
    const b = await pretrain({ files, config: config({ maxSteps: 3 }) });
    const c = await pretrain({ files, config: config({ maxSteps: 3, seed: 7 }) });
    assert.deepEqual(a.losses, b.losses);
    assert.notDeepEqual(a.losses, c.losses);
  });

  it('refuses an empty corpus and one shorter than the context with clear errors', async () => {
    await assert.rejects(
      pretrain({ files: [], config: config() }),
      (e: Error & { code?: string }) => e.code === 'EMPTY_CORPUS',
    );
    const tiny = [{ path: 'a.ts', bytes: new TextEncoder().encode('let x = 1;\n') }];
    await assert.rejects(
      pretrain({ files: tiny, config: config() }),
      (e: Error & { code?: string }) => e.code === 'CORPUS_TOO_SMALL' && /too small/.test(e.message),
    );
  });

  it('refuses to resume without a checkpoint, and names the corrupt file of a damaged one', async () => {
    const dir = await tmpDir();
    await assert.rejects(
      pretrain({ files: codeFiles(2), config: config(), outDir: dir, resume: true }),
      (e: Error & { code?: string }) => e.code === 'NO_CHECKPOINT',
    );
    await pretrain({ files: codeFiles(2), config: config({ maxSteps: 2 }), outDir: dir });
    const file = path.join(dir, 'model.safetensors');
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 3] ^= 0xff;
    await fs.writeFile(file, bytes);
    await assert.rejects(
      loadModel(dir),
      (e: Error & { code?: string }) => e.code === 'BAD_CHECKPOINT' && e.message.includes('model.safetensors'),
    );
    await assert.rejects(
      loadCheckpoint(path.join(dir, 'nope')),
      (e: Error & { code?: string }) => e.code === 'NO_CHECKPOINT',
    );
  });

  it('refuses a config.json that disagrees with the weights', async () => {
    const dir = await tmpDir();
    await pretrain({ files: codeFiles(2), config: config({ maxSteps: 1 }), outDir: dir });
    const ckpt = await loadCheckpoint(dir);
    const cfg = ckpt.config as { model: { nLayer: number } };
    cfg.model.nLayer = 3;
    await saveCheckpoint(dir, { config: cfg, tokenizer: ckpt.tokenizer, weights: ckpt.weights, step: ckpt.step });
    await assert.rejects(
      loadModel(dir),
      (e: Error & { code?: string }) => e.code === 'BAD_CHECKPOINT' && /model\.safetensors.*h\.2/.test(e.message),
    );
  });
});

describe('training data and schedule', () => {
  it('turns a document into prefix-suffix-middle fill-in-the-middle tokens that reassemble it', () => {
    const text = 'function add(a, b) {\n  return a + b; // ünïcode\n}\n';
    const tok = trainTokenizer([text.repeat(5)], { vocabSize: 300 });
    const rng = new Rng(3);
    for (let i = 0; i < 20; i++) {
      const ids = fimTokens(new TextEncoder().encode(text), tok, rng);
      const s = tok.specials;
      assert.equal(ids[0], s.fimPrefix);
      const iSuf = ids.indexOf(s.fimSuffix);
      const iMid = ids.indexOf(s.fimMiddle);
      assert.ok(iSuf > 0 && iMid > iSuf);
      const prefix = tok.decodeText(ids.slice(1, iSuf));
      const suffix = tok.decodeText(ids.slice(iSuf + 1, iMid));
      const middle = tok.decodeText(ids.slice(iMid + 1));
      assert.equal(prefix + middle + suffix, text);
    }
  });

  it('warms up linearly, then decays by a cosine to the minimum', () => {
    const o = { peak: 1, min: 0.1, warmupSteps: 10 };
    assert.equal(learningRate(0, 0, o), 0.1);
    assert.equal(learningRate(9, 0.05, o), 1);
    assert.ok(Math.abs(learningRate(50, 0.5, o) - 0.55) < 1e-12);
    assert.ok(Math.abs(learningRate(100, 1, o) - 0.1) < 1e-12);
  });

  it('evaluates on fixed windows, shorter than the context when the held-out text is short', () => {
    const tokens = Int32Array.from({ length: 100 }, (_, i) => i);
    const batches = validationBatches(tokens, 4, 16, 2);
    assert.equal(batches.length, 2);
    assert.deepEqual(Array.from(batches[0].y.slice(0, 3)), [1, 2, 3]);
    const short = validationBatches(tokens.slice(0, 10), 4, 16, 2);
    assert.equal(short[0].T, 9);
  });
});
