import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { GPTConfig, MODERN_RECIPE, parameterCount, validateConfig } from '../../../src/core/model/config';
import { disposeCache, GPT, KVCache, parameterNames } from '../../../src/core/model/gpt';
import { CONFIG_FORMAT, loadModel, toNamedTensors } from '../../../src/core/model/persist';
import { saveCheckpoint } from '../../../src/core/checkpoint';
import { trainTokenizer } from '../../../src/core/tokenizer';
import type { TrainConfig } from '../../../src/core/train/config';
import { buildOptimizer } from '../../../src/core/train/loop';
import { stageConfig } from '../../../src/core/train/stage';
import { isMuonParam, newtonSchulz } from '../../../src/core/train/muon';
import { learningRate } from '../../../src/core/train/schedule';
import { pretrain } from '../../../src/core/train/trainer';
import { Rng } from '../../../src/core/rng';
import { assertGradientsMatch } from '../helpers/gradcheck';
import { tinyTrainConfig, tmpDir as tmpDirFor } from '../helpers/train';
import { codeFiles, TINY, useWasm } from '../helpers/tf';

function ids(B: number, T: number, V: number, offset = 0): Int32Array {
  return Int32Array.from({ length: B * T }, (_, i) => (i * 7 + offset * 13 + 3) % V);
}

const SMALL: GPTConfig = { ...TINY, vocabSize: 20, contextLength: 6, nEmbd: 8, nLayer: 1, nHead: 2 };

/** Each option alone, and all of them (modded-nanogpt's architecture). */
const VARIANTS: [string, Partial<GPTConfig>][] = [
  ['rotary', { positionEncoding: 'rotary' }],
  ['qkNorm', { qkNorm: true }],
  ['relu2', { mlp: 'relu2' }],
  ['untiedHead', { untiedHead: true }],
  ['no bias', { bias: false }],
  ['zeroInitProj', { zeroInitProj: true }],
  ['logitSoftCap', { logitSoftCap: 5 }],
  ['all', MODERN_RECIPE],
];

/** Eigenvalues of a small symmetric matrix (cyclic Jacobi), for singular values in the Muon test. */
function symmetricEigenvalues(a: number[][]): number[] {
  const n = a.length;
  const m = a.map((r) => r.slice());
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p][q] ** 2;
    if (off < 1e-20) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-30) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p];
          const mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k];
          const mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
      }
    }
  }
  return m.map((r, i) => r[i]);
}

function singularValues(x: tf.Tensor2D): number[] {
  const [r, c] = x.shape;
  const g = tf.tidy(() => (r <= c ? tf.matMul(x, tf.transpose(x)) : tf.matMul(tf.transpose(x), x)));
  const eig = symmetricEigenvalues(g.arraySync() as number[][]);
  g.dispose();
  return eig.map((e) => Math.sqrt(Math.max(0, e))).sort((a, b) => a - b);
}

const tmpDir = () => tmpDirFor('recipe');

const trainConfig = tinyTrainConfig;

describe('recipe options (rotary, QK-norm, ReLU², untied head, no bias, zero-init, soft-cap, WSD, Muon)', () => {
  before(useWasm);

  for (const [label, opts] of VARIANTS) {
    it(`${label}: logits of shape [B, T, V], stored parameters as counted, no leaks`, () => {
      const cfg = { ...TINY, ...opts };
      const m = GPT.create(cfg, 1);
      try {
        const before = tf.memory().numTensors;
        tf.tidy(() => {
          const r = m.forward(tf.tensor2d(ids(3, 10, cfg.vocabSize), [3, 10], 'int32'), { trace: true });
          assert.deepEqual(r.logits.shape, [3, 10, cfg.vocabSize]);
          assert.ok(r.logits.dataSync().every(Number.isFinite));
        });
        assert.equal(tf.memory().numTensors, before);
        const stored = [...m.params.values()].reduce((n, v) => n + v.size, 0);
        assert.equal(parameterCount(cfg), stored);
        assert.deepEqual([...m.params.keys()], parameterNames(cfg));
      } finally {
        m.dispose();
      }
    });
  }

  it('names the weights of each option: no wpe with rotary, no .bias without biases, lm_head when untied', () => {
    const gpt2 = parameterNames(TINY);
    assert.equal(gpt2.length, 2 + 12 * TINY.nLayer + 2);
    assert.ok(!parameterNames({ ...TINY, positionEncoding: 'rotary' }).includes('wpe.weight'));
    assert.ok(!parameterNames({ ...TINY, bias: false }).some((n) => n.endsWith('.bias')));
    assert.equal(parameterNames({ ...TINY, untiedHead: true }).at(-1), 'lm_head.weight');
    assert.deepEqual(parameterNames({ ...TINY, qkNorm: true, mlp: 'relu2', logitSoftCap: 30 }), gpt2);
  });

  it('zero-initialised projections and head start at zero, so the first loss is exactly ln(vocab)', () => {
    const cfg = { ...TINY, untiedHead: true, zeroInitProj: true };
    const m = GPT.create(cfg, 2);
    try {
      for (const [name, v] of m.params) {
        const zero = v.dataSync().every((x) => x === 0);
        assert.equal(zero, /c_proj\.weight$|lm_head|\.bias$/.test(name), name);
      }
      const loss = tf.tidy(
        () =>
          m
            .loss(tf.tensor2d(ids(2, 8, 300), [2, 8], 'int32'), tf.tensor2d(ids(2, 8, 300, 1), [2, 8], 'int32'))
            .dataSync()[0],
      );
      assert.ok(Math.abs(loss - Math.log(300)) < 1e-4, `loss ${loss}`);
    } finally {
      m.dispose();
    }
  });

  it('soft-caps the logits to (−cap, cap)', () => {
    const m = GPT.create({ ...TINY, logitSoftCap: 0.5 }, 3);
    try {
      const max = tf.tidy(
        () => tf.max(tf.abs(m.forward(tf.tensor2d(ids(1, 8, 300), [1, 8], 'int32')).logits)).dataSync()[0],
      );
      assert.ok(max < 0.5 && max > 0, `max |logit| ${max}`);
    } finally {
      m.dispose();
    }
  });

  it('generates with the KV cache exactly as it computes the whole sequence (rotary positions, QK-norm)', () => {
    const cfg = { ...TINY, ...MODERN_RECIPE, zeroInitProj: false };
    const m = GPT.create(cfg, 4);
    try {
      const seq = ids(1, 12, cfg.vocabSize);
      const full = tf.tidy(() => m.forward(tf.tensor2d(seq, [1, 12], 'int32')).logits.dataSync());
      const V = cfg.vocabSize;
      let cache: KVCache = { layers: [], length: 0 };
      for (let t = 0; t < 12; t++) {
        const prev = cache;
        let logits: Float32Array = new Float32Array(0);
        tf.tidy(() => {
          const out = m.forward(tf.tensor2d([seq[t]], [1, 1], 'int32'), { cache: prev });
          logits = Float32Array.from(out.logits.dataSync());
          cache = out.cache!; // the cache's tensors are kept by forward
        });
        disposeCache(prev);
        for (let v = 0; v < V; v++) {
          assert.ok(Math.abs(logits[v] - full[t * V + v]) < 1e-4, `position ${t}, token ${v}`);
        }
      }
      disposeCache(cache);
    } finally {
      m.dispose();
    }
  });

  for (const [label, opts] of VARIANTS.filter(([l]) => l !== 'zeroInitProj')) {
    it(`${label}: gradients agree with finite differences on wasm`, () => {
      const cfg = { ...SMALL, ...opts, zeroInitProj: false };
      const m = GPT.create(cfg, 5);
      const x = tf.tensor2d(ids(2, 6, 20), [2, 6], 'int32');
      const y = tf.tensor2d(ids(2, 6, 20, 3), [2, 6], 'int32');
      const { value, grads } = tf.variableGrads(() => m.loss(x, y));
      const lossAt = () => tf.tidy(() => m.loss(x, y).dataSync()[0]);
      const eps = 3e-3; // small: a LayerNorm'd wpe entry is curved enough to fool a step of 1e-2
      const names = ['h.0.attn.c_attn.weight', 'h.0.mlp.c_fc.weight', 'h.0.ln_1.weight', 'wte.weight'];
      if (cfg.untiedHead) names.push('lm_head.weight');
      if (cfg.positionEncoding === 'learned') names.push('wpe.weight');
      assertGradientsMatch(m, grads, names, lossAt, eps);
      tf.dispose([x, y, value, ...Object.values(grads)]);
      m.dispose();
    });
  }

  it('Muon orthogonalises: the singular values of the Newton–Schulz update are near 1, wide or tall', () => {
    const rng = new Rng(7);
    // Rectangular random matrices, as gradients are: a square one has singular values near 0 that five
    // iterations cannot lift (nor are they meant to: modded-nanogpt's iteration is tuned for speed, not exactness).
    for (const [r, c] of [
      [16, 48],
      [48, 16],
      [8, 64],
    ]) {
      const g = tf.tensor2d(
        Float32Array.from({ length: r * c }, () => rng.normal() * (1 + rng.next() * 10)),
        [r, c],
      );
      const o = newtonSchulz(g);
      const sv = singularValues(o);
      tf.dispose([g, o]);
      assert.ok(
        sv.every((s) => s > 0.5 && s < 1.5),
        `[${r}, ${c}] singular values ${sv[0].toFixed(3)}..${sv.at(-1)!.toFixed(3)}`,
      );
    }
  });

  it('Muon takes the blocks’ matrices, AdamW the rest; state names are momentum_buffer.* and exp_avg(_sq).*', () => {
    const m = GPT.create({ ...TINY, untiedHead: true }, 1);
    const opt = buildOptimizer(m.params, trainConfig({ optimizer: 'muon' }));
    try {
      const muon = [...m.params].filter(([n, p]) => isMuonParam(n, p)).map(([n]) => n);
      assert.equal(muon.length, 4 * TINY.nLayer);
      const names = [...opt.state().keys()];
      for (const n of muon) {
        assert.ok(names.includes(`momentum_buffer.${n}`) && !names.includes(`exp_avg.${n}`));
      }
      for (const n of ['wte.weight', 'lm_head.weight', 'h.0.ln_1.weight', 'h.0.attn.c_attn.bias']) {
        assert.ok(names.includes(`exp_avg.${n}`) && names.includes(`exp_avg_sq.${n}`), n);
      }
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() =>
        m.loss(tf.tensor2d(ids(2, 8, 300), [2, 8], 'int32'), tf.tensor2d(ids(2, 8, 300, 1), [2, 8], 'int32')),
      );
      const norm = opt.step(grads, 1e-3, 1);
      tf.dispose([value, norm, ...Object.values(grads)]);
      assert.equal(tf.memory().numTensors, before, 'a Muon step leaked tensors');
      assert.equal(opt.t, 1);
    } finally {
      opt.dispose();
      m.dispose();
    }
  });

  it('a later stage of a Muon-trained parent scales Muon’s rate with AdamW’s', () => {
    const parent = {
      format: CONFIG_FORMAT,
      model: TINY,
      training: { ...trainConfig(), optimizer: 'muon', learningRate: 1e-3 },
    };
    const c = stageConfig(parent as never, { maxSteps: 2 }, 0.3);
    assert.equal(c.optimizer, 'muon');
    assert.ok(Math.abs(c.muonLearningRate! - 0.006) < 1e-12, String(c.muonLearningRate));
  });

  it('warm-up/stable/decay: linear warm-up, the peak until the decay share, then linear to the minimum', () => {
    const o = { peak: 1, min: 0.1, warmupSteps: 10, schedule: 'wsd' as const, decayFraction: 0.2 };
    assert.equal(learningRate(0, 0, o), 0.1);
    assert.equal(learningRate(9, 0, o), 1);
    assert.equal(learningRate(50, 0.5, o), 1);
    assert.equal(learningRate(80, 0.8, o), 1);
    assert.ok(Math.abs(learningRate(90, 0.9, o) - 0.55) < 1e-12);
    assert.ok(Math.abs(learningRate(100, 1, o) - 0.1) < 1e-12);
  });

  it('refuses invalid options with clear errors', () => {
    for (const bad of [
      { positionEncoding: 'alibi' },
      { mlp: 'swiglu' },
      { bias: 'no' },
      { logitSoftCap: -1 },
      { positionEncoding: 'rotary', nEmbd: 6, nHead: 2 },
    ]) {
      assert.throws(
        () => validateConfig({ ...TINY, ...bad } as GPTConfig),
        (e: Error & { code?: string }) => e.code === 'BAD_CONFIG',
      );
    }
    for (const bad of [{ optimizer: 'sgd' }, { schedule: 'linear' }, { decayFraction: 0 }, { muonMomentum: 1 }]) {
      assert.throws(
        () => trainConfig(bad as Partial<TrainConfig>),
        (e: Error & { code?: string }) => e.code === 'BAD_CONFIG',
      );
    }
  });

  it('loads a model folder whose config.json predates the options, with GPT-2’s names', async () => {
    const dir = await tmpDir();
    const tok = trainTokenizer(
      codeFiles(2).map((f) => f.bytes),
      { vocabSize: 280 },
    );
    // What a folder of the first GPT Lab held: the six fields of GPTConfig and nothing more.
    const old = {
      vocabSize: tok.vocabSize,
      contextLength: 16,
      nEmbd: 16,
      nLayer: 2,
      nHead: 2,
      positionEncoding: 'learned',
    };
    const m = GPT.create(old as GPTConfig, 1);
    const weights = m.weights();
    const shapes = new Map([...m.params].map(([n, v]) => [n, v.shape]));
    m.dispose();
    await saveCheckpoint(dir, {
      config: { format: CONFIG_FORMAT, model: old },
      tokenizer: tok.toJSON(),
      weights: toNamedTensors(weights, (n) => shapes.get(n)!),
      step: 0,
      trainer: {},
    });
    const { model, config } = await loadModel(dir);
    try {
      assert.deepEqual(Object.keys(config.model).sort(), Object.keys(old).sort());
      assert.equal(model.params.size, 2 + 12 * 2 + 2);
      assert.ok(model.params.has('wpe.weight') && model.params.has('h.0.attn.c_attn.bias'));
      assert.ok(!model.params.has('lm_head.weight'));
      const out = tf.tidy(() => model.forward(tf.tensor2d(ids(1, 8, 50), [1, 8], 'int32')).logits.dataSync());
      assert.ok(out.every(Number.isFinite));
    } finally {
      model.dispose();
    }
  });

  it('resumes a Muon + WSD run of the modern architecture exactly where an uninterrupted one would be', async () => {
    const files = codeFiles(4);
    const cfg = () =>
      trainConfig({
        model: { vocabSize: 300, contextLength: 32, nEmbd: 32, nLayer: 2, nHead: 2, ...MODERN_RECIPE },
        optimizer: 'muon',
        schedule: 'wsd',
      });
    const full = await pretrain({ files, config: cfg(), outDir: await tmpDir() });
    const dir = await tmpDir();
    let steps = 0;
    const first = await pretrain({
      files,
      config: cfg(),
      outDir: dir,
      hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
    });
    assert.equal(first.step, 3);
    const rest = await pretrain({ files, config: { ...cfg(), maxSteps: undefined }, outDir: dir, resume: true });
    assert.equal(rest.step, 8);
    assert.deepEqual([...first.losses, ...rest.losses], full.losses);
    assert.equal(rest.valLoss, full.valLoss);
    const { model, config } = await loadModel(dir);
    model.dispose();
    assert.equal(config.model.positionEncoding, 'rotary');
    assert.equal(config.model.untiedHead, true);
    assert.ok(full.valLoss < full.initialValLoss, `val loss ${full.initialValLoss} → ${full.valLoss}`);
  });
});
