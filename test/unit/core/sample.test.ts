import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GPT } from '../../../src/core/model/gpt';
import { loadModel } from '../../../src/core/model/persist';
import { Rng } from '../../../src/core/rng';
import { generate, Generator, pickToken, samplingDistribution, softmax } from '../../../src/core/sample';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { defaultTrainConfig } from '../../../src/core/train/config';
import { pretrain } from '../../../src/core/train/trainer';
import { codeFiles, TINY, useWasm } from '../helpers/tf';

describe('sampling', () => {
  before(useWasm);
  const tok = trainTokenizer(
    codeFiles(2).map((f) => f.bytes),
    { vocabSize: 300 },
  );
  const cfg = { ...TINY, vocabSize: tok.vocabSize, contextLength: 48 };

  it('generates with the KV cache token for token as a full recompute does', () => {
    const m = GPT.create(cfg, 11);
    try {
      const prompt = tok.encode('export function add(');
      const opts = { maxTokens: 30, temperature: 0, stopAtEndOfText: false };
      const cached = generate(m, tok, prompt, opts);
      const full = generate(m, tok, prompt, { ...opts, noCache: true });
      assert.equal(cached.tokens.length, 30);
      assert.deepEqual(cached.tokens, full.tokens);
      // Also when sampling with temperature, top-k and top-p (same seed, same draws).
      const s = { maxTokens: 25, temperature: 1.2, topK: 50, topP: 0.95, seed: 4, stopAtEndOfText: false };
      assert.deepEqual(generate(m, tok, prompt, s).tokens, generate(m, tok, prompt, { ...s, noCache: true }).tokens);
    } finally {
      m.dispose();
    }
  });

  it('keeps generating past the context by sliding its window, without leaking tensors', () => {
    const m = GPT.create(cfg, 12);
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const r = generate(m, tok, tok.encode('let x = '), {
          maxTokens: 70,
          temperature: 0.9,
          seed: i,
          stopAtEndOfText: false,
        });
        assert.equal(r.tokens.length, 70);
      }
      const g = new Generator(m);
      g.next([1, 2, 3]);
      g.next([1, 2, 3, 4]);
      g.dispose();
      assert.equal(tf.memory().numTensors, before);
    } finally {
      m.dispose();
    }
  });

  it('is reproducible with a seed, returns top-k probabilities per step and honours stop sequences', () => {
    const m = GPT.create(cfg, 13);
    try {
      const prompt = tok.encode('return ');
      const a = generate(m, tok, prompt, {
        maxTokens: 20,
        temperature: 1,
        seed: 5,
        topProbs: 5,
        stopAtEndOfText: false,
      });
      const b = generate(m, tok, prompt, {
        maxTokens: 20,
        temperature: 1,
        seed: 5,
        topProbs: 5,
        stopAtEndOfText: false,
      });
      const c = generate(m, tok, prompt, { maxTokens: 20, temperature: 1, seed: 6, stopAtEndOfText: false });
      assert.deepEqual(a.tokens, b.tokens);
      assert.notDeepEqual(a.tokens, c.tokens);
      assert.equal(a.steps.length, 20);
      for (const s of a.steps) {
        assert.equal(s.top!.length, 5);
        assert.ok(s.top![0].prob >= s.top![4].prob);
      }
      const stopAt = a.text.slice(3, 5);
      const stopped = generate(m, tok, prompt, {
        maxTokens: 20,
        temperature: 1,
        seed: 5,
        stop: [stopAt],
        stopAtEndOfText: false,
      });
      assert.equal(stopped.stopReason, 'stop');
      assert.ok(!stopped.text.includes(stopAt));
      assert.ok(a.text.startsWith(stopped.text));
    } finally {
      m.dispose();
    }
  });

  it('shapes the distribution with temperature, top-k and top-p', () => {
    const logits = [2, 1, 0, -1];
    const p = softmax(logits);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    const hot = softmax(logits, 10);
    assert.ok(hot[0] - hot[3] < p[0] - p[3], 'a higher temperature flattens');
    const k2 = samplingDistribution(logits, { temperature: 1, topK: 2 });
    assert.deepEqual(
      k2.map((t) => t.token),
      [0, 1],
    );
    assert.ok(Math.abs(k2[0].prob + k2[1].prob - 1) < 1e-12);
    const nucleus = samplingDistribution(logits, { temperature: 1, topP: 0.7 });
    assert.deepEqual(
      nucleus.map((t) => t.token),
      [0, 1],
    );
    assert.equal(pickToken(logits, { temperature: 0 }, new Rng(1)), 0);
    const counts = [0, 0, 0, 0];
    const rng = new Rng(2);
    for (let i = 0; i < 4000; i++) counts[pickToken(logits, { temperature: 1 }, rng)]++;
    counts.forEach((c, i) => assert.ok(Math.abs(c / 4000 - p[i]) < 0.03, `token ${i}: ${c / 4000} vs ${p[i]}`));
  });

  it('gives identical logits after save → load', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-sample-'));
    const config = defaultTrainConfig('tiny', {
      model: { vocabSize: 300, contextLength: 16, nEmbd: 16, nLayer: 1, nHead: 2, positionEncoding: 'sinusoidal' },
      batchSize: 2,
      maxMinutes: undefined,
      maxSteps: 3,
    });
    await pretrain({ files: codeFiles(2), config, outDir: dir });
    const a = await loadModel(dir);
    const b = await loadModel(dir);
    try {
      const ids = a.tokenizer.encode('export function');
      const run = (m: GPT) => tf.tidy(() => m.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.dataSync());
      assert.deepEqual(Array.from(run(a.model)), Array.from(run(b.model)));
      assert.equal(a.model.config.positionEncoding, 'sinusoidal');
    } finally {
      a.model.dispose();
      b.model.dispose();
    }
  });
});
