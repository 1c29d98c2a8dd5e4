import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../src/core/backend';
import { getPreset, parameterCount, PRESETS } from '../../../src/core/model/config';
import { GPT, parameterNames } from '../../../src/core/model/gpt';
import { AdamW } from '../../../src/core/train/adamw';
import { trainStep } from '../../../src/core/train/trainer';
import { assertGradientsMatch } from '../helpers/gradcheck';
import { TINY, useWasm } from '../helpers/tf';

function ids(B: number, T: number, V: number, offset = 0): Int32Array {
  return Int32Array.from({ length: B * T }, (_, i) => (i * 7 + offset * 13 + 3) % V);
}

describe('GPT model', () => {
  before(useWasm);

  it('returns logits of shape [B, T, V] and, when traced, attention [B, H, T, T] and hidden [B, T, C] per layer', () => {
    const m = GPT.create(TINY, 1);
    try {
      tf.tidy(() => {
        const r = m.forward(tf.tensor2d(ids(3, 10, TINY.vocabSize), [3, 10], 'int32'), { trace: true });
        assert.deepEqual(r.logits.shape, [3, 10, TINY.vocabSize]);
        assert.equal(r.trace!.attention.length, TINY.nLayer);
        assert.deepEqual(r.trace!.attention[0].shape, [3, TINY.nHead, 10, 10]);
        assert.deepEqual(r.trace!.hidden[1].shape, [3, 10, TINY.nEmbd]);
      });
    } finally {
      m.dispose();
    }
  });

  it('has attention rows that sum to 1 and are zero above the diagonal', () => {
    const m = GPT.create(TINY, 2);
    try {
      const att = tf.tidy(() =>
        m
          .forward(tf.tensor2d(ids(1, 8, TINY.vocabSize), [1, 8], 'int32'), { trace: true })
          .trace!.attention[1].arraySync(),
      );
      for (const head of att[0]) {
        head.forEach((row, i) => {
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
          row.forEach((w, j) => j > i && assert.equal(w, 0));
        });
      }
    } finally {
      m.dispose();
    }
  });

  it('names its weights like Hugging Face GPT-2 and counts parameters as they are stored', () => {
    const names = parameterNames(TINY);
    assert.ok(
      names.includes('wte.weight') &&
        names.includes('wpe.weight') &&
        names.includes('h.1.attn.c_attn.weight') &&
        names.includes('h.0.mlp.c_fc.bias'),
    );
    const m = GPT.create(TINY, 1);
    const stored = [...m.params.values()].reduce((n, v) => n + v.size, 0);
    m.dispose();
    assert.equal(parameterCount(TINY), stored);
    assert.equal(parameterCount(PRESETS.base.model) > 10e6, true);
    assert.throws(
      () => getPreset('huge'),
      (e: Error & { code?: string }) => e.code === 'UNKNOWN_PRESET' && /tiny, small, base/.test(e.message),
    );
  });

  it('starts with a loss near ln(vocab)', () => {
    const m = GPT.create({ ...TINY, vocabSize: 512 }, 3);
    try {
      const loss = tf.tidy(
        () =>
          m
            .loss(tf.tensor2d(ids(4, 16, 512), [4, 16], 'int32'), tf.tensor2d(ids(4, 16, 512, 1), [4, 16], 'int32'))
            .dataSync()[0],
      );
      assert.ok(Math.abs(loss - Math.log(512)) < 0.1, `loss ${loss} vs ln 512 = ${Math.log(512)}`);
    } finally {
      m.dispose();
    }
  });

  it('overfits one batch to a loss below 0.1 without leaking tensors', () => {
    const m = GPT.create({ ...TINY, vocabSize: 64 }, 4);
    const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 });
    const x = ids(2, 16, 64);
    const batch = { x, y: ids(2, 16, 64, 5), B: 2, T: 16 };
    let loss = Infinity;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200 && loss > 0.05; i++) loss = trainStep(m, opt, batch, 1e-2, 1).loss;
    assert.equal(tf.memory().numTensors, before, 'training steps leaked tensors');
    m.dispose();
    opt.dispose();
    assert.ok(loss < 0.1, `loss ${loss}`);
  });

  it('has gradients that agree with finite differences (attention, MLP, LayerNorm, embedding)', async () => {
    // float64-free check on the cpu backend: central differences with a step large enough for float32.
    await initBackend('cpu');
    try {
      const cfg = { ...TINY, vocabSize: 20, contextLength: 6, nEmbd: 8, nLayer: 1, nHead: 2 };
      const m = GPT.create(cfg, 5);
      const x = tf.tensor2d(ids(2, 6, 20), [2, 6], 'int32');
      const y = tf.tensor2d(ids(2, 6, 20, 3), [2, 6], 'int32');
      const { grads } = tf.variableGrads(() => m.loss(x, y));
      const lossAt = () => tf.tidy(() => m.loss(x, y).dataSync()[0]);
      const eps = 1e-2;
      const names = ['h.0.attn.c_attn.weight', 'h.0.mlp.c_fc.weight', 'h.0.ln_1.weight', 'wte.weight', 'wpe.weight'];
      assertGradientsMatch(m, grads, names, lossAt, eps);
      tf.dispose([x, y, ...Object.values(grads)]);
      m.dispose();
    } finally {
      await useWasm();
    }
  });

  it('computes the same logits on the cpu and wasm backends', async () => {
    const input = ids(1, 12, TINY.vocabSize);
    const run = () => {
      const m = GPT.create({ ...TINY, positionEncoding: 'sinusoidal' }, 6);
      const out = tf.tidy(() => m.forward(tf.tensor2d(input, [1, 12], 'int32')).logits.dataSync());
      m.dispose();
      return out;
    };
    const wasm = run();
    await initBackend('cpu');
    const cpu = run();
    await useWasm();
    const maxDiff = Array.from(wasm).reduce((d, v, i) => Math.max(d, Math.abs(v - cpu[i])), 0);
    assert.ok(maxDiff < 1e-4, `max difference ${maxDiff}`);
  });
});
