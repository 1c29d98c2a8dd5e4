import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { GPT } from '../../../../src/core/model/gpt';
import { Rng } from '../../../../src/core/rng';
import { buildOptimizer } from '../../../../src/core/train/loop';
import { Muon } from '../../../../src/core/train/muon';
import { TINY, useWasm } from '../../helpers/tf';
import { tinyTrainConfig } from '../../helpers/train';

describe('Muon’s decoupled weight decay', () => {
  before(useWasm);

  it('with a zero gradient shrinks each matrix by exactly (1 − lr·wd); without decay leaves it', () => {
    const rng = new Rng(1);
    const data = Float32Array.from({ length: 6 * 10 }, () => rng.normal());
    for (const wd of [0, 0.1]) {
      const w = tf.variable(tf.tensor2d(data, [6, 10]), true, `muon-decay-${wd}`);
      const muon = new Muon(new Map([['h.0.mlp.c_fc.weight', w]]), { momentum: 0.95, weightDecay: wd });
      const lr = 0.02;
      tf.tidy(() => muon.apply({ [w.name]: tf.zerosLike(w) }, lr, tf.scalar(1)));
      const factor = Math.fround(1 - lr * wd);
      const got = w.dataSync();
      data.forEach((v, i) => assert.equal(got[i], Math.fround(v * factor), `[${i}] at wd ${wd}`));
      muon.dispose();
      w.dispose();
    }
  });

  it('the training config’s muonWeightDecay reaches the hidden matrices only, at Muon’s rate of the step', () => {
    const cfg = tinyTrainConfig({ model: { ...TINY }, optimizer: 'muon', muonWeightDecay: 0.5 });
    const m = GPT.create(cfg.model, 2);
    const opt = buildOptimizer(m.params, cfg);
    try {
      const before = m.weights();
      const zeros = tf.tidy(() => Object.fromEntries([...m.params.values()].map((v) => [v.name, tf.zerosLike(v)])));
      const lr = 1e-3;
      tf.dispose(opt.step(zeros, lr, 1));
      tf.dispose(Object.values(zeros));
      const muonLr = (lr * (cfg.muonLearningRate ?? 0.02)) / cfg.learningRate;
      const factor = Math.fround(1 - muonLr * 0.5);
      const hidden = m.weights().get('h.1.attn.c_attn.weight')!;
      before.get('h.1.attn.c_attn.weight')!.forEach((v, i) => assert.equal(hidden[i], Math.fround(v * factor)));
      // An embedding (AdamW's): its own decay, not Muon's factor.
      const wte = m.weights().get('wte.weight')!;
      const w0 = before.get('wte.weight')!;
      assert.notEqual(wte[5], Math.fround(w0[5] * factor));
    } finally {
      opt.dispose();
      m.dispose();
    }
  });
});
