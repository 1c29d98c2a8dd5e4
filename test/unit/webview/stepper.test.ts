import { strict as assert } from 'node:assert';
import { samplingDistribution } from '../../../src/core/sample/distribution';
import { bars, drawToken, shapedDistribution } from '../../../webview/stepper/distribution';

const sum = (xs: { prob: number }[]) => xs.reduce((s, x) => s + x.prob, 0);
const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≈ ${b}`);

describe('webview: generation stepper distribution', () => {
  // A 300-token vocabulary with a few clear favourites.
  const V = 300;
  const logits = new Float32Array(V);
  for (let i = 0; i < V; i++) logits[i] = Math.sin(i * 12.9898) * 2;
  logits[42] = 6;
  logits[7] = 5;
  logits[199] = 4.5;

  it('temperature 0 puts all the mass on the top token', () => {
    assert.deepEqual(shapedDistribution(logits, { temperature: 0 }), [{ token: 42, prob: 1 }]);
    assert.deepEqual(shapedDistribution(Float32Array.from([1, 3, 3]), { temperature: 0 }), [{ token: 1, prob: 1 }]);
    assert.deepEqual(shapedDistribution(new Float32Array(0), { temperature: 1 }), []);
  });

  it('temperature 1 is the softmax over the whole vocabulary, most likely first', () => {
    const d = shapedDistribution(logits, { temperature: 1 });
    assert.equal(d.length, V);
    close(sum(d), 1);
    assert.deepEqual(
      d.slice(0, 3).map((t) => t.token),
      [42, 7, 199],
    );
    let z = 0;
    for (const l of logits) z += Math.exp(l - 6);
    close(d[0].prob, 1 / z, 1e-6);
    for (let i = 1; i < d.length; i++) assert.ok(d[i].prob <= d[i - 1].prob);
  });

  it('temperature 2 flattens and 0.5 sharpens', () => {
    const p1 = shapedDistribution(logits, { temperature: 1 })[0].prob;
    const p2 = shapedDistribution(logits, { temperature: 2 })[0].prob;
    const ph = shapedDistribution(logits, { temperature: 0.5 })[0].prob;
    assert.ok(p2 < p1 && p1 < ph);
    // softmax(l/2) ∝ sqrt(softmax(l)): the ratio of the top two is the square root.
    const d2 = shapedDistribution(logits, { temperature: 2 });
    close(d2[0].prob / d2[1].prob, Math.exp(0.5), 1e-5);
  });

  it('top-k keeps k tokens, renormalised', () => {
    const d = shapedDistribution(logits, { temperature: 1, topK: 3 });
    assert.deepEqual(
      d.map((t) => t.token),
      [42, 7, 199],
    );
    close(sum(d), 1);
    const full = shapedDistribution(logits, { temperature: 1 });
    const z = full[0].prob + full[1].prob + full[2].prob;
    close(d[1].prob, full[1].prob / z);
    assert.equal(shapedDistribution(logits, { temperature: 1, topK: 0 }).length, V);
  });

  it('top-p keeps the smallest prefix reaching p, renormalised', () => {
    const full = shapedDistribution(logits, { temperature: 1 });
    const p = full[0].prob + full[1].prob / 2;
    const d = shapedDistribution(logits, { temperature: 1, topP: p });
    assert.equal(d.length, 2);
    close(sum(d), 1);
    close(d[0].prob, full[0].prob / (full[0].prob + full[1].prob));
    const both = shapedDistribution(logits, { temperature: 1, topK: 5, topP: 0.05 });
    assert.equal(both.length, 1);
    close(both[0].prob, 1);
  });

  it('matches the sampler in src/core exactly for T > 0', () => {
    for (const params of [
      { temperature: 0.7, topK: 40, topP: 0.9 },
      { temperature: 1.3 },
      { temperature: 2, topP: 0.5 },
    ])
      assert.deepEqual(shapedDistribution(logits, params), samplingDistribution(logits, params));
  });

  it('draws tokens by cumulative probability', () => {
    const d = [
      { token: 5, prob: 0.5 },
      { token: 9, prob: 0.3 },
      { token: 2, prob: 0.2 },
    ];
    assert.equal(drawToken(d, 0), 5);
    assert.equal(drawToken(d, 0.49), 5);
    assert.equal(drawToken(d, 0.5), 9);
    assert.equal(drawToken(d, 0.85), 2);
    assert.equal(drawToken(d, 0.9999999999), 2);
  });

  it('bars show the first tokens with their text and sum the rest', () => {
    const d = shapedDistribution(logits, { temperature: 1 });
    const names = new Map([
      [42, 'return'],
      [7, '·'],
    ]);
    const r = bars(d, logits, (t) => names.get(t) ?? `#${t}`, 5);
    assert.equal(r.bars.length, 5);
    assert.deepEqual(
      r.bars.slice(0, 3).map((b) => b.display),
      ['return', '·', '#199'],
    );
    assert.equal(r.bars[0].logit, 6);
    assert.equal(r.restCount, V - 5);
    close(sum(r.bars) + r.restProb, 1);
  });
});
