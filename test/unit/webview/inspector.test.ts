import { strict as assert } from 'node:assert';
import { pct, xmlEscape } from '../../../webview/shared/format';
import {
  attentionMatrix,
  attentionRow,
  heatmapLayout,
  highlightedKeys,
  matrixPixels,
  MAX_ALPHA,
  parseColor,
  svgExport,
  topAttended,
  weightToAlpha,
} from '../../../webview/inspector/viewModel';

/** Random causal attention [layer][head][query][key]: softmax rows over keys ≤ query, zeros above. */
function causal(layers: number, heads: number, T: number, seed = 1): Float32Array {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 4;
  const w = new Float32Array(layers * heads * T * T);
  for (let m = 0; m < layers * heads; m++) {
    for (let q = 0; q < T; q++) {
      const base = (m * T + q) * T;
      let sum = 0;
      for (let k = 0; k <= q; k++) sum += w[base + k] = Math.exp(rnd());
      for (let k = 0; k <= q; k++) w[base + k] /= sum;
    }
  }
  return w;
}

describe('webview: attention inspector view model', () => {
  const L = 2;
  const H = 3;
  const T = 7;
  const w = causal(L, H, T);

  it('attentionRow of a causal head sums to 1 and is 0 above the diagonal', () => {
    for (let l = 0; l < L; l++)
      for (const h of [0, 1, 2, 'mean'] as const)
        for (let q = 0; q < T; q++) {
          const row = attentionRow(w, L, H, T, l, h, q);
          assert.equal(row.length, T);
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `sum of ${l}/${h}/${q}`);
          for (let k = q + 1; k < T; k++) assert.equal(row[k], 0);
        }
  });

  it('picks the right slice of the weights', () => {
    const row = attentionRow(w, L, H, T, 1, 2, 4);
    const base = ((1 * H + 2) * T + 4) * T;
    assert.deepEqual([...row], [...w.slice(base, base + T)]);
    assert.throws(() => attentionRow(w, L, H, T, 2, 0, 0), RangeError);
  });

  it('the mean-of-heads row averages the heads, and agrees with attentionMatrix', () => {
    const mean = attentionRow(w, L, H, T, 1, 'mean', 5);
    const heads = [0, 1, 2].map((h) => attentionRow(w, L, H, T, 1, h, 5));
    for (let k = 0; k < T; k++) assert.ok(Math.abs(mean[k] - (heads[0][k] + heads[1][k] + heads[2][k]) / 3) < 1e-6);
    const m = attentionMatrix(w, { layers: L, heads: H, T }, 1, 'mean');
    for (let k = 0; k < T; k++) assert.ok(Math.abs(m[5 * T + k] - mean[k]) < 1e-6);
    const one = attentionMatrix(w, { layers: L, heads: H, T }, 0, 1);
    assert.deepEqual([...one.slice(3 * T, 4 * T)], [...attentionRow(w, L, H, T, 0, 1, 3)]);
  });

  it('topAttended ranks by weight, ties to the earlier token, and leaves out zeros', () => {
    const row = Float32Array.from([0.1, 0.4, 0.1, 0.3, 0.1, 0, 0]);
    assert.deepEqual(
      topAttended(row, 4).map((a) => a.index),
      [1, 3, 0, 2],
    );
    assert.equal(topAttended(row, 10).length, 5);
    assert.ok(Math.abs(topAttended(row, 1)[0].weight - 0.4) < 1e-7);
    assert.deepEqual(highlightedKeys(Float32Array.from([0.005, 0.6, 0.395])), [1, 2]);
  });

  it('weightToAlpha is monotonic, starts at 0 and is clamped', () => {
    let prev = -1;
    for (let x = 0; x <= 1.0001; x += 0.01) {
      const a = weightToAlpha(x);
      assert.ok(a >= prev, `monotonic at ${x}`);
      prev = a;
    }
    assert.equal(weightToAlpha(0), 0);
    assert.equal(weightToAlpha(-0.5), 0);
    assert.equal(weightToAlpha(NaN), 0);
    assert.equal(weightToAlpha(1), MAX_ALPHA);
    assert.equal(weightToAlpha(7), MAX_ALPHA);
    assert.ok(MAX_ALPHA <= 1);
  });

  it('parses theme colours and paints pixels with weight-driven opacity', () => {
    assert.deepEqual(parseColor('#3794ff'), [0x37, 0x94, 0xff]);
    assert.deepEqual(parseColor('#fff'), [255, 255, 255]);
    assert.deepEqual(parseColor('#11223344'), [0x11, 0x22, 0x33]);
    assert.deepEqual(parseColor('rgba(1, 2, 3, 0.5)'), [1, 2, 3]);
    assert.equal(parseColor('blue'), undefined);
    const px = matrixPixels(Float32Array.from([1, 0, 0.25, 0.75]), 2, [10, 20, 30]);
    assert.deepEqual([...px.slice(0, 4)], [10, 20, 30, Math.round(255 * MAX_ALPHA)]);
    assert.equal(px[7], 0);
    assert.ok(px[15] > px[11]);
  });

  it('lays out the heatmap within the room given', () => {
    for (const n of [1, 7, 40, 256]) {
      const l = heatmapLayout(n, 480);
      assert.ok(l.cell >= 2 && l.cell <= 28);
      assert.ok(l.width <= 480 || l.cell === 2, `T=${n}`);
      assert.equal(l.width, l.margin + l.cell * n);
    }
    assert.ok(heatmapLayout(7, 480).margin > 0, 'labels when cells are big');
    assert.equal(heatmapLayout(200, 480).margin, 0, 'no labels when cells are tiny');
  });

  it('exports SVG with one rect per cell and escaped token labels', () => {
    const tokens = ['a', '<b>', '&c', '"d"', "'e'", 'f', 'g'];
    const m = attentionMatrix(w, { layers: L, heads: H, T }, 0, 0);
    const svg = svgExport({
      tokens,
      matrix: m,
      title: 'L0 <h0> & co',
      color: '#3794ff',
      background: '#1e1e1e',
      foreground: '#ccc',
      hovered: 2,
    });
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.equal(svg.match(/<rect class="cell"/g)?.length, T * T);
    assert.equal(svg.match(/class="row-label"/g)?.length, T);
    assert.equal(svg.match(/class="hovered"/g)?.length, 1);
    assert.ok(!svg.includes('<b>') && !svg.includes('&c') && !svg.includes('<h0>'));
    assert.ok(svg.includes('&#60;b&#62;') && svg.includes('&#38;c') && svg.includes('L0 &#60;h0&#62; &#38; co'));
    // Cells above the diagonal are fully transparent.
    assert.ok(svg.includes('fill-opacity="0.000"'));
  });

  it('formats percentages and escapes XML', () => {
    assert.equal(pct(0.4213), '42%');
    assert.equal(pct(0.0312), '3.1%');
    assert.equal(pct(0.00042), '0.04%');
    assert.equal(pct(0.0000001), '<0.01%');
    assert.equal(pct(0), '0%');
    assert.equal(pct(1), '100%');
    assert.equal(xmlEscape(`<a href="x">&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#38;&#39;&#60;/a&#62;');
  });
});
