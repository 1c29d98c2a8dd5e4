import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../../src/core/backend';
import { loadCheckpoint, readHistory } from '../../../../src/core/checkpoint';
import { findWebGpuAdapter, WebGpuAdapter, webgpuReadsSynchronously } from '../../../../src/core/backend/webgpu';
import { GptLabError } from '../../../../src/core/errors';
import { GPTConfig, MODERN_RECIPE } from '../../../../src/core/model/config';
import { GPT } from '../../../../src/core/model/gpt';
import { AdamW } from '../../../../src/core/train/adamw';
import { trainStepAsync } from '../../../../src/core/train/trainer';
import { codeFiles, TINY } from '../../helpers/tf';
import { tmpDir } from '../../helpers/train';
import { adapterOrSkip } from '../../helpers/webgpu';

/*
 * The GPU path on whatever adapter this machine has: in CI that is Mesa's llvmpipe (software, through Dawn's
 * OpenGL ES backend), which `--backend webgpu` may use and `auto` must not. Skips, saying why, only where the
 * optional `webgpu` package or any adapter is missing.
 */

const MODEL: GPTConfig = { ...TINY, ...MODERN_RECIPE };

/** The CLI in a fresh process, as a user runs it. */
function cli(args: string[]) {
  const bin = path.resolve(__dirname, '../../../../../bin/gpt-lab.js');
  // GPT_LAB_WEBGPU_PROBE: auto loads Dawn even without a GPU device node, so its adapter rule is what is tested.
  const env = { ...process.env, GPT_LAB_WEBGPU_PROBE: '1' };
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 240_000, env });
}

/** Losses of a few AdamW steps from the same initial weights on the current backend. */
async function losses(steps: number): Promise<number[]> {
  const m = GPT.create(MODEL, 0);
  const opt = new AdamW(m.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const B = 4;
  const T = MODEL.contextLength;
  const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % MODEL.vocabSize);
  const y = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 7) % MODEL.vocabSize);
  const out: number[] = [];
  for (let s = 0; s < steps; s++) out.push((await trainStepAsync(m, opt, { x, y, B, T }, 1e-2, 1)).loss);
  m.dispose();
  opt.dispose();
  return out;
}

describe('webgpu backend (Dawn; a software adapter on machines without a GPU)', function () {
  this.timeout(300_000);
  let adapter: WebGpuAdapter;

  before(async function () {
    adapter = await adapterOrSkip(this, 'webgpu tests');
    console.log(`      adapter: ${adapter.description} [${adapter.mode}, ${adapter.kind.kind}]`);
  });

  after(async () => {
    await initBackend('wasm'); // the rest of the suite runs on the default
  });

  it("auto's adapter rule refuses a software adapter and takes a hardware one", async () => {
    const forAuto = findWebGpuAdapter(false);
    if (adapter.kind.kind === 'software') {
      await assert.rejects(forAuto, (e: GptLabError) => e.code === 'WEBGPU_SOFTWARE' && /auto/.test(e.message));
    } else {
      assert.equal((await forAuto).description, adapter.description);
    }
  });

  it('auto takes webgpu only on a hardware adapter, and in Node only for callers that read asynchronously', () => {
    // A fresh process each: this one may already hold a backend, which auto would keep.
    const backendJs = path.resolve(__dirname, '../../../../src/core/backend/index.js');
    const auto = (options: object) => {
      const init = `initBackend('auto', ${JSON.stringify(options)})`;
      const r = spawnSync(
        process.execPath,
        ['-e', `require(${JSON.stringify(backendJs)}).${init}.then((i) => console.log(JSON.stringify(i)))`],
        { encoding: 'utf8', timeout: 120_000, env: { ...process.env, GPT_LAB_WEBGPU_PROBE: '1' } },
      );
      assert.equal(r.status, 0, r.stderr);
      const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; skipped: string[] };
      return { name: info.name, why: info.skipped.find((s) => s.startsWith('webgpu: ')) ?? '' };
    };
    const synchronous = auto({});
    if (!webgpuReadsSynchronously()) {
      assert.notEqual(synchronous.name, 'webgpu');
      assert.match(synchronous.why, /synchronously/);
    }
    const pretraining = auto({ readsAsync: true });
    if (adapter.kind.kind === 'software') {
      assert.notEqual(pretraining.name, 'webgpu');
      assert.match(pretraining.why, /auto' leaves it out/);
    } else {
      assert.equal(pretraining.name, 'webgpu');
    }
  });

  it('--backend webgpu trains: the first losses equal the wasm backend', async () => {
    await initBackend('wasm');
    const wasm = await losses(3);
    const info = await initBackend('webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    assert.match(info.adapter ?? '', new RegExp(adapter.kind.kind));
    const gpu = await losses(3);
    console.log(
      `      losses wasm ${wasm.map((l) => l.toFixed(5)).join(' ')}, webgpu ${gpu.map((l) => l.toFixed(5)).join(' ')}`,
    );
    assert.ok(wasm[2] < wasm[0] - 0.05, 'the model learns');
    for (let i = 0; i < wasm.length; i++)
      assert.ok(Math.abs(gpu[i] - wasm[i]) < 1e-3, `step ${i}: ${gpu[i]} vs ${wasm[i]}`);
  });

  it('gpt-lab train --backend webgpu trains, evaluates and saves end to end; the model evaluates, samples and fine-tunes', async () => {
    const corpus = await tmpDir('webgpu-corpus');
    for (const f of codeFiles(6)) await fs.writeFile(path.join(corpus, path.basename(f.path)), f.bytes);
    const out = path.join(await tmpDir('webgpu-model'), 'model');
    const size = ['--layers', '1', '--heads', '2', '--embd', '16', '--context', '16', '--vocab', '300', '--batch', '4'];
    const train = cli(['train', corpus, '--steps', '3', ...size, '--out', out, '--backend', 'webgpu']);
    assert.equal(train.status, 0, train.stderr);
    const said = train.stdout + train.stderr; // progress goes to stderr
    assert.match(said, /backend: webgpu/);
    assert.match(said, /completions on held-out files: /); // generated on wasm, from the saved folder
    assert.match(said, /held-out: \d+\.\d{3} bits\/byte on every held-out token/); // read asynchronously on webgpu

    const ckpt = await loadCheckpoint(out);
    assert.equal(ckpt.step, 3);
    assert.ok(ckpt.optimizer && ckpt.optimizer.size > 0, 'optimizer state saved');
    const { records } = await readHistory(out);
    const valLosses = records.filter((r) => typeof r.valLoss === 'number').map((r) => r.valLoss as number);
    assert.ok(valLosses.length >= 2 && valLosses.every(Number.isFinite), JSON.stringify(records));

    const evaluated = cli(['eval', '--model', out, '--backend', 'webgpu', '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const loss = (JSON.parse(evaluated.stdout.trim().split('\n').pop()!) as { loss: number }).loss;
    assert.ok(Math.abs(loss - valLosses[valLosses.length - 1]) < 0.5, `eval ${loss} vs training's ${valLosses}`);

    const sampled = cli(['sample', '--model', out, '--backend', 'webgpu', '--prompt', 'export', '--max-tokens', '5']);
    assert.equal(sampled.status, 0, sampled.stderr);
    assert.ok(sampled.stdout.startsWith('export') && sampled.stdout.length > 'export'.length, sampled.stdout);

    // A later stage on webgpu through the CLI: fine-tuning, its held-out metrics and before/after table.
    const examples = path.join(path.dirname(out), 'examples.jsonl');
    await fs.writeFile(
      examples,
      ['add', 'one'].map((w) => JSON.stringify({ prompt: `// ${w}\n`, completion: `return ${w};` })).join('\n'),
    );
    const sftOut = path.join(path.dirname(out), 'sft');
    const sft = cli([
      'finetune',
      '--model',
      out,
      '--data',
      examples,
      '--steps',
      '2',
      '--out',
      sftOut,
      '--backend',
      'webgpu',
    ]);
    assert.equal(sft.status, 0, sft.stderr);
    assert.match(sft.stdout + sft.stderr, /backend: webgpu/);
    assert.equal((await loadCheckpoint(sftOut)).step, 2);

    // auto asks for the stages as for train: only the adapter's kind keeps webgpu out, not how the stage reads.
    const auto = cli(['finetune', '--model', out, '--data', examples, '--steps', '1', '--out', `${sftOut}-auto`]);
    assert.equal(auto.status, 0, auto.stderr);
    const said2 = auto.stdout + auto.stderr;
    if (adapter.kind.kind === 'software')
      assert.match(
        said2,
        /backend: wasm \(skipped .*webgpu: The only WebGPU adapter is a software .*'auto' leaves it out/,
      );
    else assert.match(said2, /backend: webgpu/);
  });

  it("bench's child measures training (the losses of wasm's child) and a matmul on webgpu", () => {
    const child = path.resolve(__dirname, '../../../../src/cli/benchChild.js');
    const bench = (spec: object, backend: string) => {
      const r = spawnSync(process.execPath, [child, JSON.stringify(spec)], {
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, GPT_LAB_BENCH_BACKEND: backend },
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
    };
    const data = require.resolve('typescript/lib/typescript.js');
    const spec = {
      kind: 'train',
      model: { ...TINY, positionEncoding: 'learned' },
      batch: 2,
      steps: 2,
      warmup: 1,
      data,
    };
    const [wasm, gpu] = [bench(spec, 'wasm'), bench(spec, 'webgpu')];
    assert.equal(gpu.backend, 'webgpu');
    assert.equal(gpu.replicas, 1);
    assert.ok((gpu.tokPerSec as number) > 0, JSON.stringify(gpu));
    assert.ok(
      Math.abs((gpu.lossLast as number) - (wasm.lossLast as number)) < 1e-3,
      `${gpu.lossLast} vs ${wasm.lossLast}`,
    );
    const mm = bench({ kind: 'matmul', n: 64 }, 'webgpu');
    assert.ok((mm.GFLOPs as number) > 0, JSON.stringify(mm));
  });

  it('a synchronous read of a result on the GPU fails saying what to do', async function () {
    if (webgpuReadsSynchronously()) this.skip();
    await initBackend('webgpu');
    const t = tf.tidy(() => tf.sum(tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])), 1)); // computed on the GPU
    assert.throws(
      () => t.dataSync(),
      (e: GptLabError) => e.code === 'WEBGPU_SYNC_READ' && /--backend wasm/.test(e.message),
    );
    assert.ok((await t.data()).every((v) => v === 64 * 64));
    t.dispose();
  });
});
