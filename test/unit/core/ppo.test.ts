import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GPT } from '../../../src/core/model/gpt';
import { loadModel } from '../../../src/core/model/persist';
import { generate, generateBatch } from '../../../src/core/sample';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { trainPpo } from '../../../src/core/train/align';
import { pretrain } from '../../../src/core/train/trainer';
import { readVersion } from '../../../src/core/versions';
import { codeFiles, TINY, useWasm } from '../helpers/tf';
import { tinyTrainConfig, tmpDir as tmpDirFor } from '../helpers/train';

const tmpDir = () => tmpDirFor('ppo');

describe('PPO (Stage 3)', () => {
  before(useWasm);

  it('generates a batch token for token as batch-1 generation does, greedy and sampled', () => {
    const tok = trainTokenizer(
      codeFiles(2).map((f) => f.bytes),
      { vocabSize: 300 },
    );
    const model = GPT.create({ ...TINY, vocabSize: tok.vocabSize, contextLength: 32 }, 3);
    const prompts = ['export function', 'a', 'return a + b;\n}\n', ''].map((p) => tok.encode(p));
    for (const temperature of [0, 1]) {
      const seeds = [5, 6, 7, 8];
      const batch = generateBatch(model, tok, prompts, { maxTokens: 10, temperature, seeds });
      prompts.forEach((p, i) => {
        const one = generate(model, tok, p, { maxTokens: 10, temperature, seed: seeds[i] });
        assert.deepEqual(batch[i].tokens, one.tokens, `row ${i} at temperature ${temperature}`);
      });
    }
    model.dispose();
  });

  it('raises a programmatic reward while the KL to the frozen reference stays bounded', async function () {
    this.timeout(120_000);
    const root = await tmpDir();
    const base = path.join(root, 'base');
    await pretrain({
      files: codeFiles(3),
      config: tinyTrainConfig({ maxSteps: 20, learningRate: 1e-2, evalInterval: 10 }),
      outDir: base,
    });
    const parentBytes = await fs.readFile(path.join(base, 'model.safetensors'));
    const { tokenizer } = await loadModel(base).then((m) => (m.model.dispose(), m));
    // The rule: the share of response characters that are digits.
    const digits = (ids: number[]) => {
      const text = tokenizer.decodeText(ids.filter((t) => t < 256 || t > 259));
      return text.length ? [...text].filter((c) => c >= '0' && c <= '9').length / text.length : 0;
    };
    const evals: Record<string, number>[] = [];
    const before = tf.memory().numTensors;
    const r = await trainPpo({
      parentDir: base,
      outDir: path.join(root, 'ppo-1'),
      prompts: ['return a + b + ', 'export function add', '  return ', 'const x = '].map((prompt) => ({ prompt })),
      scorer: (rows) => rows.map((row) => digits(row.response)),
      maxSteps: 40,
      learningRate: 1e-2,
      batchSize: 8,
      ppo: { maxNewTokens: 6, klCoef: 0.05 },
      hooks: { onEval: (e) => evals.push(e) },
    });
    assert.equal(tf.memory().numTensors, before, 'PPO leaked tensors');
    const start = evals[0].reward;
    assert.ok(r.metrics.reward > start + 0.15, `reward ${start} → ${r.metrics.reward}`);
    assert.ok(Math.abs(r.metrics.kl) < 20, `KL to the reference ${r.metrics.kl}`);
    assert.ok(Number.isFinite(r.metrics.kl));
    assert.deepEqual(await fs.readFile(path.join(base, 'model.safetensors')), parentBytes, 'the reference changed');
    const v = await readVersion(path.join(root, 'ppo-1'));
    assert.equal(v.stage, 'ppo');
    const saved = await loadModel(path.join(root, 'ppo-1'));
    assert.ok(saved.model.params.has('v_head.weight'), 'the value head saves with the policy');
    saved.model.dispose();
  });
});
