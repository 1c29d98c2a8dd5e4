import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from '../../../src/core/train/adamw';
import { Muon, MUON_ADAM_LR_SCALE, MuonAdamW, newtonSchulz, newtonSchulzReference } from '../../../src/core/train/muon';
import { Rng } from '../../../src/core/rng';
import { useWasm } from '../helpers/tf';

function randomMatrix(rng: Rng, r: number, c: number): tf.Tensor2D {
  return tf.tensor2d(
    Float32Array.from({ length: r * c }, () => rng.normal() * (1 + rng.next() * 10)),
    [r, c],
  );
}

describe('Muon’s Newton–Schulz on the Gram matrix', () => {
  before(useWasm);

  it('gives the plain iteration’s result (wide, tall, square), without leaking tensors', () => {
    const rng = new Rng(3);
    for (const [r, c] of [
      [16, 48],
      [48, 16],
      [24, 24],
      [1, 9],
    ]) {
      const g = randomMatrix(rng, r, c);
      const before = tf.memory().numTensors;
      const fast = newtonSchulz(g);
      const ref = newtonSchulzReference(g);
      assert.equal(tf.memory().numTensors, before + 2, 'only the two results stay');
      assert.deepEqual(fast.shape, [r, c]);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(fast, ref))).dataSync()[0]);
      const scale = tf.tidy(() => tf.max(tf.abs(ref)).dataSync()[0]);
      assert.ok(scale > 0.05, 'the reference is not all zeros');
      assert.ok(diff < 1e-4, `[${r}, ${c}]: max |fast − reference| = ${diff}`);
      tf.dispose([g, fast, ref]);
    }
  });

  it('Muon steps with either form move the weights alike', () => {
    const rng = new Rng(5);
    const grads = [0, 1, 2].map(() => randomMatrix(rng, 8, 32));
    const [fast, ref] = [false, true].map((reference) => {
      const w = tf.variable(randomMatrix(new Rng(1), 8, 32), true, `muon-gram-w-${String(reference)}`);
      const muon = new Muon(new Map([['h.0.mlp.c_fc.weight', w]]), { momentum: 0.95, reference });
      for (const g of grads) tf.tidy(() => muon.apply({ [w.name]: g }, 0.02, tf.scalar(1)));
      const out = w.dataSync().slice();
      muon.dispose();
      w.dispose();
      return out;
    });
    tf.dispose(grads);
    const start = randomMatrix(new Rng(1), 8, 32);
    const moved = Math.max(...(start.dataSync() as Float32Array).map((x, i) => Math.abs(x - ref[i])));
    start.dispose();
    assert.ok(moved > 1e-3, 'the steps moved the weights');
    const diff = Math.max(...fast.map((x, i) => Math.abs(x - ref[i])));
    assert.ok(diff < 1e-5, `max weight difference ${diff}`);
  });

  it('under Muon, AdamW’s share (embeddings, head, gains) runs at MUON_ADAM_LR_SCALE × the schedule’s rate', () => {
    const adamCfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const grad = randomMatrix(new Rng(2), 4, 6);
    const moved = (make: (w: tf.Variable) => { step: (g: Record<string, tf.Tensor>, lr: number) => void }) => {
      const w = tf.variable(randomMatrix(new Rng(1), 4, 6), true, `muon-adam-${Math.random()}`);
      const opt = make(w);
      opt.step({ [w.name]: grad }, 1e-3);
      opt.step({ [w.name]: grad }, 1e-3);
      const out = w.dataSync().slice();
      w.dispose();
      return out;
    };
    const underMuon = moved((w) => {
      const o = new MuonAdamW(new Map([['wte.weight', w]]), adamCfg, { lr: 0.02, momentum: 0.95, adamPeakLr: 1e-3 });
      return { step: (g, lr) => tf.dispose(o.step(g, lr, 0)) };
    });
    const alone = moved((w) => {
      const o = new AdamW(new Map([['wte.weight', w]]), adamCfg);
      return { step: (g, lr) => tf.dispose(o.step(g, lr * MUON_ADAM_LR_SCALE, 0)) };
    });
    const plain = moved((w) => {
      const o = new AdamW(new Map([['wte.weight', w]]), adamCfg);
      return { step: (g, lr) => tf.dispose(o.step(g, lr, 0)) };
    });
    grad.dispose();
    assert.ok(Math.max(...underMuon.map((x, i) => Math.abs(x - alone[i]))) < 1e-6);
    assert.ok(Math.max(...underMuon.map((x, i) => Math.abs(x - plain[i]))) > 1e-4);
  });
});
