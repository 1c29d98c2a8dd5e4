import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import {
  architectureOf,
  GPTConfig,
  MODERN_RECIPE,
  parameterCount,
  validateConfig,
  withArchitecture,
} from '../../../../src/core/model/config';
import { disposeCache, GPT, KVCache, parameterNames, parameterShape } from '../../../../src/core/model/gpt';
import { loadModel } from '../../../../src/core/model/persist';
import { pretrain } from '../../../../src/core/train/trainer';
import { assertGradientsMatch } from '../../helpers/gradcheck';
import { codeFiles, TINY, useWasm } from '../../helpers/tf';
import { tinyTrainConfig, tmpDir } from '../../helpers/train';

/** Value residual (`vres`) and the embedding shortcut (`x0`): modded-nanogpt's two shortcuts to the first layer. */
const OPTIONS: [string, Partial<GPTConfig>][] = [
  ['valueResidual', { valueResidual: true }],
  ['embedShortcut', { embedShortcut: true }],
  [
    'both, on the modern architecture',
    { ...MODERN_RECIPE, zeroInitProj: false, valueResidual: true, embedShortcut: true },
  ],
];

function ids(B: number, T: number, V: number, offset = 0): Int32Array {
  return Int32Array.from({ length: B * T }, (_, i) => (i * 7 + offset * 13 + 3) % V);
}

describe('shortcut options: value residual and embedding shortcut', () => {
  before(useWasm);

  it('names a mix per block after the first: h.N.x0_mix [2] and h.N.attn.v_mix [1], counted as parameters', () => {
    const cfg = { ...TINY, nLayer: 3, valueResidual: true, embedShortcut: true };
    const names = parameterNames(cfg);
    assert.deepEqual(
      names.filter((n) => n.includes('_mix')),
      ['h.1.x0_mix', 'h.1.attn.v_mix', 'h.2.x0_mix', 'h.2.attn.v_mix'],
    );
    assert.deepEqual(parameterShape(cfg, 'h.2.x0_mix'), [2]);
    assert.deepEqual(parameterShape(cfg, 'h.1.attn.v_mix'), [1]);
    assert.equal(parameterCount(cfg), parameterCount({ ...TINY, nLayer: 3 }) + 2 * 3);
    // Off (and absent, as in every older config.json): GPT-2's names exactly.
    assert.deepEqual(parameterNames({ ...TINY, valueResidual: false, embedShortcut: false }), parameterNames(TINY));
    assert.equal(architectureOf({ ...TINY, valueResidual: true }), 'modern');
    assert.equal(withArchitecture({ model: cfg }, 'gpt2').model.valueResidual, undefined);
    assert.throws(() => validateConfig({ ...TINY, embedShortcut: 'yes' as unknown as boolean }), /embedShortcut/);
  });

  it('an embedding shortcut at its start, x0_mix = [1, 0], gives the logits of the model without it', () => {
    const plain = GPT.create(TINY, 3);
    const withX0 = new GPT(
      { ...TINY, embedShortcut: true },
      new Map([...plain.weights(), ['h.1.x0_mix', Float32Array.from([1, 0])]]),
    );
    try {
      const x = tf.tensor2d(ids(2, 8, TINY.vocabSize), [2, 8], 'int32');
      const a = tf.tidy(() => plain.forward(x).logits.dataSync());
      const b = tf.tidy(() => withX0.forward(x).logits.dataSync());
      x.dispose();
      assert.ok(
        a.every((v, i) => Math.abs(v - b[i]) < 1e-5),
        'an embedding shortcut at [1, 0] gives the same logits',
      );
    } finally {
      plain.dispose();
      withX0.dispose();
    }
  });

  for (const [label, opts] of OPTIONS) {
    it(`${label}: logits of shape [B, T, V], no leaks, and the KV cache gives the full pass's logits`, () => {
      const cfg = { ...TINY, ...opts };
      const m = GPT.create(cfg, 4);
      try {
        const before = tf.memory().numTensors;
        const full = tf.tidy(() => {
          const out = m.forward(tf.tensor2d(ids(1, 10, cfg.vocabSize), [1, 10], 'int32')).logits;
          assert.deepEqual(out.shape, [1, 10, cfg.vocabSize]);
          return out.dataSync();
        });
        assert.equal(tf.memory().numTensors, before);
        const seq = ids(1, 10, cfg.vocabSize);
        let cache: KVCache = { layers: [], length: 0 };
        for (let t = 0; t < 10; t++) {
          const prev = cache;
          let logits = new Float32Array(0);
          tf.tidy(() => {
            const out = m.forward(tf.tensor2d([seq[t]], [1, 1], 'int32'), { cache: prev });
            logits = Float32Array.from(out.logits.dataSync());
            cache = out.cache!;
          });
          disposeCache(prev);
          const V = cfg.vocabSize;
          for (let v = 0; v < V; v += 17) {
            assert.ok(Math.abs(logits[v] - full[t * V + v]) < 1e-4, `position ${t}, token ${v}`);
          }
        }
        disposeCache(cache);
      } finally {
        m.dispose();
      }
    });

    it(`${label}: gradients agree with finite differences (the mixes and the weights around them)`, () => {
      const cfg = { ...TINY, vocabSize: 20, contextLength: 6, nEmbd: 8, nLayer: 2, nHead: 2, ...opts };
      const m = GPT.create(cfg, 5);
      // Mixes away from their start, so that every term of them carries gradient.
      for (const [name, v] of m.params) {
        if (name.endsWith('x0_mix')) v.assign(tf.tensor1d([0.8, 0.6]));
        if (name.endsWith('v_mix')) v.assign(tf.tensor1d([0.3]));
      }
      const x = tf.tensor2d(ids(2, 6, 20), [2, 6], 'int32');
      const y = tf.tensor2d(ids(2, 6, 20, 3), [2, 6], 'int32');
      const { value, grads } = tf.variableGrads(() => m.loss(x, y));
      const lossAt = () => tf.tidy(() => m.loss(x, y).dataSync()[0]);
      const names = [...m.params.keys()].filter(
        (n) => n.includes('_mix') || n === 'wte.weight' || n === 'h.0.attn.c_attn.weight' || n === 'h.1.ln_1.weight',
      );
      assert.ok(names.some((n) => n.includes('_mix')));
      for (const n of names.filter((n) => n.includes('_mix'))) {
        assert.ok(Math.abs(grads[m.params.get(n)!.name].dataSync()[0]) > 1e-6, `${n} gets a gradient`);
      }
      assertGradientsMatch(m, grads, names, lossAt, 3e-3);
      tf.dispose([x, y, value, ...Object.values(grads)]);
      m.dispose();
    });
  }

  it('saves, loads and resumes a run with both (Muon + WSD) exactly where an uninterrupted one would be', async () => {
    const files = codeFiles(4);
    const cfg = () =>
      tinyTrainConfig({
        model: {
          vocabSize: 300,
          contextLength: 32,
          nEmbd: 32,
          nLayer: 2,
          nHead: 2,
          ...MODERN_RECIPE,
          valueResidual: true,
          embedShortcut: true,
        },
        optimizer: 'muon',
        schedule: 'wsd',
      });
    const full = await pretrain({ files, config: cfg(), outDir: await tmpDir('shortcuts') });
    const dir = await tmpDir('shortcuts');
    let steps = 0;
    const first = await pretrain({
      files,
      config: cfg(),
      outDir: dir,
      hooks: { onProgress: () => steps++, shouldStop: () => steps >= 3 },
    });
    const rest = await pretrain({ files, config: { ...cfg(), maxSteps: undefined }, outDir: dir, resume: true });
    assert.deepEqual([...first.losses, ...rest.losses], full.losses);
    assert.equal(rest.valLoss, full.valLoss);
    const { model, config } = await loadModel(dir);
    try {
      assert.equal(config.model.valueResidual, true);
      assert.equal(config.model.embedShortcut, true);
      const mix = model.params.get('h.1.x0_mix')!.dataSync();
      assert.ok(mix[0] !== 1 || mix[1] !== 0, `x0_mix trained away from [1, 0]: ${Array.from(mix).join(', ')}`);
      assert.notEqual(model.params.get('h.1.attn.v_mix')!.dataSync()[0], 0.5, 'v_mix trained');
    } finally {
      model.dispose();
    }
  });
});
