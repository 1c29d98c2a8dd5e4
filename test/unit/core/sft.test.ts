import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SftExample } from '../../../src/core/data/examples';
import { GPT } from '../../../src/core/model/gpt';
import { maskedCrossEntropy } from '../../../src/core/model/ops';
import { loadModel } from '../../../src/core/model/persist';
import { Rng } from '../../../src/core/rng';
import { Tokenizer, trainTokenizer } from '../../../src/core/tokenizer';
import type { TrainConfig } from '../../../src/core/train/config';
import { Batch } from '../../../src/core/train/data';
import { finetune, readComparison } from '../../../src/core/train/finetune';
import { trainLoop } from '../../../src/core/train/loop';
import { encodeExample, padBatch } from '../../../src/core/train/sftTask';
import { TrainTask } from '../../../src/core/train/task';
import { listVersions } from '../../../src/core/versions';
import { codeFiles, useWasm } from '../helpers/tf';
import { parentVersion as parentOf, tinyTrainConfig, tmpDir as tmpDirFor } from '../helpers/train';

const config = (overrides: Partial<TrainConfig> = {}) => tinyTrainConfig({ maxSteps: 6, ...overrides });

const tmpDir = () => tmpDirFor('sft');

const EXAMPLES: SftExample[] = [
  { prompt: '// add two numbers\n', completion: 'function add(a, b) { return a + b; }' },
  { prompt: '// the answer\nconst ans', completion: 'wer = 42;' }, // ends mid-word: healed like a completion
  { prompt: '// greet\n', completion: "console.log('hi');" },
];

const parentVersion = () => parentOf('sft');

describe('supervised fine-tuning', () => {
  before(useWasm);

  it('puts no loss and no gradient on prompt tokens', () => {
    const N = 6;
    const V = 5;
    const logits = tf.randomNormal([N, V], 0, 1, 'float32', 3) as tf.Tensor2D;
    const y = tf.tensor1d([1, 2, 3, 4, 0, 1], 'int32');
    const mask = tf.tensor1d([0, 0, 0, 1, 1, 1]);
    const g = tf.grad((l: tf.Tensor) => maskedCrossEntropy(l as tf.Tensor2D, y, mask))(logits);
    const rows = g.arraySync() as number[][];
    for (let i = 0; i < 3; i++)
      assert.ok(
        rows[i].every((v) => v === 0),
        `prompt row ${i} has gradient ${rows[i]}`,
      );
    for (let i = 3; i < N; i++)
      assert.ok(
        rows[i].some((v) => Math.abs(v) > 1e-6),
        `completion row ${i} has none`,
      );
    // The value is the mean cross-entropy of the completion positions alone.
    const lp = tf.logSoftmax(logits).arraySync() as number[][];
    const want = -(lp[3][4] + lp[4][0] + lp[5][1]) / 3;
    assert.ok(Math.abs(maskedCrossEntropy(logits, y, mask).dataSync()[0] - want) < 1e-5);
    tf.dispose([logits, y, mask, g]);
  });

  it('encodes an example in the plain and fill-in-the-middle forms, cutting the prompt first', () => {
    const tok = trainTokenizer(['function add(a, b) { return a + b; }\n'.repeat(20)], { vocabSize: 300 });
    const ex = { prompt: 'x'.repeat(200) + ';\n', completion: 'return a + b;', suffix: '\n}' };
    const { plain, fim } = encodeExample(tok, ex, 40);
    assert.equal(plain.ids.length, 40);
    const comp = [...tok.encode(ex.completion), tok.specials.endOfText];
    assert.deepEqual(plain.ids.slice(plain.promptLen), comp);
    assert.deepEqual(fim.ids.slice(fim.promptLen), comp);
    assert.equal(fim.ids[0], tok.specials.fimPrefix);
    assert.equal(fim.ids[fim.promptLen - 1], tok.specials.fimMiddle);
    assert.ok(fim.ids.length <= 40);
    // A prompt ending inside a word is backed off to its last whole token, as completions do (token healing).
    const mid = encodeExample(tok, { prompt: 'function ad', completion: 'd(a, b)' }, 40).plain;
    const healed = tok.decodeText(mid.ids.slice(mid.promptLen, -1));
    assert.ok(healed.endsWith('d(a, b)') && healed.length > 'd(a, b)'.length, `completion part: ${healed}`);
    assert.equal(tok.decodeText(mid.ids.slice(0, mid.promptLen)) + healed, 'function add(a, b)');
    const b = padBatch([plain, { ids: [1, 2, 3], promptLen: 2 }], 0);
    assert.equal(b.T, 39);
    assert.deepEqual(Array.from(b.mask.slice(39, 42)), [0, 1, 0], 'only the completion token of the short row');
  });

  it('drives a handful of examples to exact match and writes a new version with its lineage', async () => {
    const { root, base } = await parentVersion();
    const out = path.join(root, 'sft-1');
    const before = tf.memory().numTensors;
    const r = await finetune({
      parentDir: base,
      outDir: out,
      examples: EXAMPLES,
      dataFile: 'examples.jsonl',
      maxSteps: 150,
      learningRate: 1e-2,
      corpusFiles: codeFiles(2),
      mixShare: 0.1,
    });
    assert.equal(tf.memory().numTensors, before, 'fine-tuning leaked tensors');
    assert.ok(r.comparison);
    assert.equal(r.comparison.child.exactMatch, 1, JSON.stringify(r.comparison.rows, null, 1));
    assert.ok(r.comparison.parent.exactMatch < 1);
    assert.ok(r.metrics.tokenAccuracy > 0.95, `token accuracy ${r.metrics.tokenAccuracy}`);
    const saved = await readComparison(out);
    assert.equal(saved?.rows.length, 3);
    const { versions } = await listVersions(root);
    assert.deepEqual(
      versions.map((v) => [v.name, v.stage, v.parent]),
      [
        ['base', 'pretrain', undefined],
        ['sft-1', 'sft', 'base'],
      ],
    );
    assert.equal(versions[1].data?.examples, 3);
    assert.ok(versions[1].metrics.tokenAccuracy > 0.95);
  });

  it('resumes fine-tuning exactly like pre-training: interrupted + resumed = uninterrupted', async () => {
    const { root, base } = await parentVersion();
    const common = { parentDir: base, examples: EXAMPLES, maxSteps: 8, learningRate: 5e-3 };
    const full = await finetune({ ...common, outDir: path.join(root, 'full') });
    let steps = 0;
    const dir = path.join(root, 'cut');
    const first = await finetune({
      ...common,
      outDir: dir,
      hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
    });
    assert.equal(first.stopped, 'cancelled');
    assert.equal(first.comparison, undefined, 'a stopped run skips the comparison');
    const rest = await finetune({ ...common, maxSteps: undefined, outDir: dir, resume: true });
    assert.equal(rest.step, 8);
    assert.deepEqual([...first.losses, ...rest.losses], full.losses);
    assert.equal(rest.valLoss, full.valLoss);
  });

  it('refuses to write over its parent and to run without examples', async () => {
    const { root, base } = await parentVersion();
    await assert.rejects(
      finetune({ parentDir: base, outDir: base, examples: EXAMPLES, maxSteps: 1 }),
      (e: Error & { code?: string }) => e.code === 'SAME_FOLDER',
    );
    await assert.rejects(
      finetune({ parentDir: base, outDir: path.join(root, 'x'), examples: [], maxSteps: 1 }),
      (e: Error & { code?: string }) => e.code === 'NO_EXAMPLES',
    );
  });
});

describe('the training core', () => {
  before(useWasm);

  /** Trains the policy toward fixed targets while reading a frozen reference, like DPO and PPO will. */
  class ToyTask implements TrainTask<Batch> {
    readonly stage = 'toy';
    constructor(
      readonly model: GPT,
      readonly reference: GPT,
      readonly tokenizer: Tokenizer,
    ) {}
    nextBatch(rng: Rng): Batch {
      const x = Int32Array.from({ length: 8 }, () => rng.int(50));
      return { x, y: x.map((v) => (v + 1) % 50), B: 1, T: 8 };
    }
    batchTokens(): number {
      return 8;
    }
    loss(b: Batch) {
      const x = tf.tensor2d(b.x, [1, 8], 'int32');
      const y = tf.tensor2d(b.y, [1, 8], 'int32');
      const logRatio = tf.sub(this.model.tokenLogProbs(x, y), this.reference.tokenLogProbs(x, y));
      const score = tf.matMul(tf.reshape(this.model.hidden(x).hidden, [8, 32]), this.model.param('score.weight'));
      return { loss: tf.add(tf.neg(tf.mean(logRatio)), tf.mul(tf.mean(tf.square(score)), 0.1)) as tf.Scalar };
    }
    evaluate() {
      return { valLoss: 0 };
    }
    folderConfig() {
      return {};
    }
  }

  it('never moves a frozen reference, and saves, loads and resumes a head like the rest', async () => {
    const cfg = config({ maxSteps: 5 });
    const tokenizer = trainTokenizer(['abc'], { vocabSize: 300 });
    const m = { ...cfg.model, vocabSize: tokenizer.vocabSize };
    const model = GPT.create(m, 1);
    model.addHead({ name: 'score.weight', shape: [32, 1] }, new Float32Array(32).fill(0.5));
    const reference = new GPT(m, GPT.create(m, 1).weights(), { trainable: false });
    const refBefore = reference.weights();
    const dir = await tmpDir();
    await trainLoop({
      task: new ToyTask(model, reference, tokenizer),
      config: { ...cfg, learningRate: 1e-2 },
      outDir: dir,
    });
    for (const [name, w] of reference.weights()) assert.deepEqual(w, refBefore.get(name), `reference ${name} moved`);
    const head = model.weights().get('score.weight')!;
    assert.ok(
      head.some((v) => Math.abs(v - 0.5) > 1e-4),
      'the head trained',
    );
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.config.heads, [{ name: 'score.weight', shape: [32, 1] }]);
    assert.deepEqual(loaded.model.weights().get('score.weight'), head);
    assert.ok(loaded.checkpoint.optimizer?.has('exp_avg.score.weight'), 'the head has optimizer state to resume');
    loaded.model.dispose();
    model.dispose();
    reference.dispose();
  });
});
