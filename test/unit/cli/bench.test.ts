import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { table } from '../../../src/cli/bench';
import { ChildSpec, flopsPerToken, median } from '../../../src/cli/benchChild';

const child = path.resolve(__dirname, '../../../src/cli/benchChild.js');
const data = require.resolve('typescript/lib/typescript.js');
const model = {
  vocabSize: 300,
  contextLength: 48,
  nEmbd: 16,
  nLayer: 1,
  nHead: 2,
  positionEncoding: 'learned' as const,
};
const run = (spec: ChildSpec) =>
  JSON.parse(execFileSync(process.execPath, [child, JSON.stringify(spec)], { encoding: 'utf8' }));

describe('gpt-lab bench', () => {
  it('measures training in a process of its own, with its peak memory', () => {
    const r = run({ kind: 'train', model, batch: 2, steps: 2, warmup: 1, data });
    assert.ok(r.tokPerSec > 0 && Number.isFinite(r.lossLast), JSON.stringify(r));
    assert.ok(r.peakRssMiB > 20, 'peak RSS of the child in MiB');
    assert.equal(r.backend, 'wasm');
  });

  it('measures training on data-parallel replicas too: the same losses as one thread, and the all-reduce time', () => {
    const spec = { kind: 'train' as const, model, batch: 2, steps: 2, warmup: 1, data };
    const one = run(spec);
    const two = run({ ...spec, replicas: 2 });
    assert.equal(two.replicas, 2);
    assert.ok(two.tokPerSec > 0 && two.allReduceMsMedian >= 0, JSON.stringify(two));
    assert.ok(Math.abs(two.lossLast - one.lossLast) < 1e-3, `${two.lossLast} vs ${one.lossLast}`);
  });

  it('measures KV-cached generation, batch 1 and batched, and checks it against full recompute', () => {
    const r = run({ kind: 'gen', model, data, batchRows: 3 });
    assert.equal(r.promptTokens, 16);
    assert.equal(r.kvMatchesFull, true);
    assert.ok(r.kvCache_msPerToken > 0 && r.batch.rows === 3 && r.batch.tokPerSec > 0, JSON.stringify(r));
  });

  it('counts FLOPs as the performance notes do and takes true medians', () => {
    // Config B: 6 · 1,055,488 + 12 · 4 · 128 · 128 (the peer prints the same 7,119,360).
    const B = {
      vocabSize: 2048,
      contextLength: 128,
      nEmbd: 128,
      nLayer: 4,
      nHead: 4,
      positionEncoding: 'learned' as const,
    };
    assert.equal(flopsPerToken(B), 7_119_360);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it('prints the summary as a table with both throughputs and their ratio', () => {
    const row = {
      engineTokPerSec: 900,
      peerTokPerSec: 3000,
      ratio: 0.3,
      engineGFLOPs: 6.4,
      peerGFLOPs: 21.4,
      engineSetting: { replicas: 2 },
      peerSetting: { openblasThreads: '1', torchThreads: 1 },
    };
    const out = table({
      date: 'today',
      rounds: 3,
      machine: { cpu: { model: 'Some CPU' }, cpus: 2 },
      matmulPeak: { GFLOPs: 30 },
      summary: {
        A: row,
        B: row,
        small: { ...row, ratio: 0.25 },
        generation: { config: 'B', engineMsPerToken: 1.1, peerMsPerToken: 1.2, speedRatio: 1.09, batchRows: 8 },
      },
      presets: { tiny: { train: { tokPerSec: 5000, peakRssMiB: 300 }, generation: { msPerToken: 0.5 } } },
    });
    assert.match(out, /Some CPU, 2 CPUs/);
    assert.match(out, /\| small \| 900 \(2\) \| 3,000 \(1\) \| 0\.25 \|/);
    assert.match(out, /engine 1\.1 ms\/token, peer 1\.2 \(peer\/engine 1\.09\)/);
    assert.match(out, /preset tiny: train 5,000 tok\/s, peak RSS 300 MiB/);
    assert.doesNotMatch(out, /beside wasm/);
  });

  it("prints a GPU backend's generation beside wasm's from the same rounds", () => {
    const row = { engineTokPerSec: 900, peerTokPerSec: 3000, ratio: 0.3 };
    const out = table({
      date: 'today',
      rounds: 3,
      backend: 'webgpu',
      machine: { cpu: { model: 'Some CPU' }, cpus: 2 },
      summary: {
        A: row,
        B: row,
        small: row,
        generation: {
          config: 'B',
          engineMsPerToken: 2.5,
          batchRows: 8,
          engineBatchTokPerSec: 4000,
          engineBatchKvCache: false,
          cpuMsPerToken: 0.9,
          cpuBatchTokPerSec: 1500,
        },
      },
      presets: {},
    });
    assert.match(out, /generation on webgpu beside wasm \(CPU\), same rounds: 2\.5 vs 0\.9 ms\/token at batch 1/);
    assert.match(out, /8 rows 4,000 vs 1,500 tok\/s \(webgpu: each step recomputes the rows\)/);
  });
});
