import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Preference, rankingToPairs } from '../../../src/core/data/preferences';
import { Rng } from '../../../src/core/rng';
import { trainDpo, trainRewardModel } from '../../../src/core/train/align';
import { GPT } from '../../../src/core/model/gpt';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { dpoLoss, DpoTask } from '../../../src/core/train/dpoTask';
import { pairwiseLoss } from '../../../src/core/train/rewardTask';
import { readVersion } from '../../../src/core/versions';
import { codeFiles, TINY, useWasm } from '../helpers/tf';
import { parentVersion as parentOf } from '../helpers/train';

const parentVersion = () => parentOf('align');

/** A preference any reader can learn: responses that return a value beat those that throw. */
function syntheticPairs(n: number, seed: number): Preference[] {
  const rng = new Rng(seed);
  const names = ['add', 'sub', 'mul', 'get', 'put', 'run', 'map', 'fold'];
  return Array.from({ length: n }, () => {
    const f = names[rng.int(names.length)];
    const v = rng.int(100);
    return {
      prompt: `function ${f}${rng.int(10)}(a) {\n  `,
      chosen: `return a + ${v};`,
      rejected: `throw ${v};`,
    };
  });
}

describe('alignment (Stage 3)', () => {
  before(useWasm);

  it('turns a ranking of K into its C(K, 2) pairs, ties giving none', () => {
    for (let k = 2; k <= 9; k++) {
      const completions = Array.from({ length: k }, (_, i) => `c${i}`);
      const pairs = rankingToPairs('p', { completions, ranks: completions.map((_, i) => i) });
      assert.equal(pairs.length, (k * (k - 1)) / 2);
      assert.ok(pairs.every((p) => Number(p.chosen.slice(1)) < Number(p.rejected.slice(1))));
    }
    const tied = rankingToPairs('p', { completions: ['a', 'b', 'c', 'd'], ranks: [0, 1, 1, 2] });
    assert.deepEqual(
      tied.map((p) => p.chosen + p.rejected),
      ['ab', 'ac', 'ad', 'bd', 'cd'],
    );
    assert.throws(() => rankingToPairs('p', { completions: ['a'], ranks: [0] }), /2 to 9/);
  });

  it('has a pairwise loss of log 2 at a tie whose gradient raises the chosen score and lowers the rejected', () => {
    const scores = tf.tensor1d([0.5, -1, 0.5, 2]); // chosen: 0.5, −1; rejected: 0.5, 2
    assert.ok(Math.abs(pairwiseLoss(tf.tensor1d([1, 1]), 1).loss.dataSync()[0] - Math.LN2) < 1e-6);
    const g = tf
      .grad((s: tf.Tensor) => pairwiseLoss(s as tf.Tensor1D, 2).loss)(scores)
      .dataSync();
    assert.ok(g[0] < 0 && g[1] < 0, `chosen gradients ${g}`);
    assert.ok(g[2] > 0 && g[3] > 0, `rejected gradients ${g}`);
    assert.ok(Math.abs(g[1]) > Math.abs(g[0]), 'the wrongly ordered pair pulls harder');
    const d = dpoLoss(tf.tensor1d([-1, -3]), tf.tensor1d([-2, -2]), 1, 0.1);
    assert.ok(Math.abs(d.rewardChosen.dataSync()[0] - 0.1) < 1e-6);
    assert.ok(Math.abs(d.rewardRejected.dataSync()[0] + 0.1) < 1e-6);
    assert.equal(d.accuracy.dataSync()[0], 1);
  });

  it("reads DPO's reference log-probabilities when a batch is drawn; a batch it did not draw gets the same loss", async () => {
    const tok = trainTokenizer(
      codeFiles(2).map((f) => f.bytes),
      { vocabSize: 300 },
    );
    const config = { ...TINY, vocabSize: tok.vocabSize };
    const [policy, reference] = [GPT.create(config, 1), GPT.create(config, 2)]; // apart: the loss is not log 2
    const make = () => new DpoTask(policy, reference, tok, syntheticPairs(6, 3), [], { batchSize: 3, beta: 0.5 });
    const drawn = make();
    const before = tf.memory().numTensors;
    const b = await drawn.nextBatch(new Rng(4)); // the reference's log-probabilities, read and cached
    assert.equal(tf.memory().numTensors, before, 'nothing left of the read');
    const loss = (task: DpoTask) => tf.tidy(() => task.loss(b).loss.dataSync()[0]);
    const [cached, inGraph] = [loss(drawn), loss(make())];
    assert.ok(Math.abs(cached - Math.LN2) > 1e-3, `${cached}`);
    assert.ok(Math.abs(cached - inGraph) < 1e-5, `${cached} vs ${inGraph}`);
    policy.dispose();
    reference.dispose();
  });

  it('trains a reward model to > 90% held-out pairwise accuracy on a learnable preference', async () => {
    const { root, base } = await parentVersion();
    const out = path.join(root, 'reward-1');
    const before = tf.memory().numTensors;
    const r = await trainRewardModel({
      parentDir: base,
      outDir: out,
      pairs: syntheticPairs(60, 1),
      maxSteps: 60,
      learningRate: 3e-3,
    });
    assert.equal(tf.memory().numTensors, before, 'leaked tensors');
    assert.ok(r.heldOut && r.heldOutCount === 12);
    assert.ok(r.metrics.accuracy > 0.9, `held-out accuracy ${r.metrics.accuracy}`);
    assert.ok(r.metrics.margin > 0);
    const v = await readVersion(out);
    assert.equal(v.stage, 'reward');
    assert.equal(v.parent, 'base');
  });

  it('lowers the DPO loss and raises its accuracy on a separable set, never touching the parent', async () => {
    const { root, base } = await parentVersion();
    const parentBytes = await fs.readFile(path.join(base, 'model.safetensors'));
    const evals: Record<string, number>[] = [];
    const r = await trainDpo({
      parentDir: base,
      outDir: path.join(root, 'dpo-1'),
      pairs: syntheticPairs(40, 2),
      maxSteps: 30,
      learningRate: 3e-3,
      hooks: { onEval: (e) => evals.push(e) },
    });
    const first = evals[0];
    assert.ok(Math.abs(first.valLoss - Math.LN2) < 1e-4, `starts at log 2 (policy = reference): ${first.valLoss}`);
    assert.ok(r.metrics.valLoss < 0.6, `DPO loss ${r.metrics.valLoss}`);
    assert.ok(r.metrics.accuracy > 0.8, `accuracy ${r.metrics.accuracy}`);
    assert.ok(r.metrics.rewardChosen > r.metrics.rewardRejected);
    assert.deepEqual(await fs.readFile(path.join(base, 'model.safetensors')), parentBytes);
    assert.equal((await readVersion(path.join(root, 'dpo-1'))).stage, 'dpo');
  });
});
