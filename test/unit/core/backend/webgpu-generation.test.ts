import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../../src/core/backend';
import { GptLabError } from '../../../../src/core/errors';
import { loadModel } from '../../../../src/core/model/persist';
import { generate, generateAsync, GenerateOptions, GenerateResult } from '../../../../src/core/sample';
import { generateBatch, generateBatchAsync } from '../../../../src/core/sample/batch';
import { TINY } from '../../helpers/tf';
import { parentVersion } from '../../helpers/train';
import { adapterOrSkip } from '../../helpers/webgpu';

/*
 * Generation on the webgpu backend, which reads tensors only asynchronously in Node: the same saved weights
 * generate on wasm (its decode module, read synchronously) and on webgpu (gpt.ts's KV cache, each token's logits
 * read with `await data()`), and must give the same greedy tokens and probabilities. In CI the adapter is Mesa's
 * llvmpipe (software). Skips, saying why, where no adapter exists.
 */

/** Past the tiny model's 16-token context, so the window slides on both backends. */
const OPTS: GenerateOptions = { maxTokens: 24, temperature: 0, topProbs: 3, stopAtEndOfText: false };
const PROMPT = 'export function add';
const PROMPT_DATA = require.resolve('typescript/lib/typescript.js');

function assertSameGeneration(gpu: GenerateResult, wasm: GenerateResult, what: string) {
  assert.deepEqual(gpu.tokens, wasm.tokens, `${what}: tokens`);
  assert.equal(gpu.tokens.length, OPTS.maxTokens);
  gpu.steps.forEach((s, i) => {
    const w = wasm.steps[i];
    assert.ok(Math.abs(s.prob - w.prob) < 1e-4, `${what} step ${i}: p ${s.prob} vs ${w.prob}`);
    assert.deepEqual(
      s.top!.map((t) => t.token),
      w.top!.map((t) => t.token),
      `${what} step ${i}: top tokens`,
    );
    s.top!.forEach((t, k) => assert.ok(Math.abs(t.prob - w.top![k].prob) < 1e-4, `${what} step ${i} top ${k}`));
  });
}

describe('generation on webgpu: the same tokens and probabilities as wasm from the same weights', function () {
  this.timeout(600_000);
  let base: string;

  before(async function () {
    const a = await adapterOrSkip(this, 'webgpu generation tests');
    console.log(`      adapter: ${a.description} [${a.mode}, ${a.kind.kind}]`);
    await initBackend('wasm');
    ({ base } = await parentVersion('webgpu-generation'));
  });

  after(async () => {
    await initBackend('wasm'); // the rest of the suite runs on the default
  });

  /** Loads the saved model on `backend` and runs `f` with it. */
  async function on<R>(backend: 'wasm' | 'webgpu', f: (m: Awaited<ReturnType<typeof loadModel>>) => Promise<R>) {
    await initBackend(backend);
    const loaded = await loadModel(base);
    try {
      assert.equal(tf.getBackend(), backend);
      return await f(loaded);
    } finally {
      loaded.model.dispose();
    }
  }

  it("batch 1 with the KV cache, and recomputing each window, give wasm decode module's greedy tokens", async () => {
    const wasm = await on('wasm', async ({ model, tokenizer }) =>
      generate(model, tokenizer, tokenizer.encode(PROMPT), OPTS),
    );
    const gpu = await on('webgpu', async ({ model, tokenizer }) => {
      const before = tf.memory().numTensors;
      const prompt = tokenizer.encode(PROMPT);
      const cached = await generateAsync(model, tokenizer, prompt, OPTS);
      const recomputed = await generateAsync(model, tokenizer, prompt, { ...OPTS, noCache: true });
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
      assert.throws(
        () => generate(model, tokenizer, prompt, OPTS),
        (e: GptLabError) => e.code === 'WEBGPU_SYNC_READ',
      );
      return { cached, recomputed };
    });
    console.log(`      greedy: ${JSON.stringify(wasm.text)}`);
    assertSameGeneration(gpu.cached, wasm, 'KV cache');
    assertSameGeneration(gpu.recomputed, wasm, 'recomputed');
  });

  it('batched generation gives each row what wasm gives it', async () => {
    const prompts = ['export', 'function add0_1(a', 'return a + b'];
    const opts = { maxTokens: 20, temperature: 0, seed: 1 };
    const wasm = await on('wasm', async ({ model, tokenizer }) =>
      generateBatch(
        model,
        tokenizer,
        prompts.map((p) => tokenizer.encode(p)),
        opts,
      ),
    );
    const gpu = await on('webgpu', ({ model, tokenizer }) =>
      generateBatchAsync(
        model,
        tokenizer,
        prompts.map((p) => tokenizer.encode(p)),
        opts,
      ),
    );
    assert.equal(gpu.length, prompts.length);
    gpu.forEach((row, i) => assert.deepEqual(row.tokens, wasm[i].tokens, `row ${i}`));
    assert.ok(
      wasm.some((r) => r.tokens.length === opts.maxTokens),
      'some row ran to the limit',
    );
  });

  it("bench's child measures generation on webgpu, batch 1 and batched, with wasm's tokens", () => {
    const child = path.resolve(__dirname, '../../../../src/cli/benchChild.js');
    const bench = (backend: string) => {
      const spec = {
        kind: 'gen',
        model: { ...TINY, nLayer: 1, contextLength: 40 },
        data: PROMPT_DATA,
        batchRows: 2,
        runs: 1,
      };
      const r = spawnSync(process.execPath, [child, JSON.stringify(spec)], {
        encoding: 'utf8',
        timeout: 240_000,
        env: { ...process.env, GPT_LAB_BENCH_BACKEND: backend },
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown> & {
        batch: Record<string, unknown>;
      };
    };
    const [wasm, gpu] = [bench('wasm'), bench('webgpu')];
    console.log(
      `      llvmpipe vs wasm, ms/token at batch 1: ${gpu.kvCache_msPerToken} vs ${wasm.kvCache_msPerToken}; ` +
        `2 rows tok/s: ${gpu.batch.tokPerSec} vs ${wasm.batch.tokPerSec}`,
    );
    assert.equal(gpu.backend, 'webgpu');
    assert.equal(gpu.kvMatchesFull, true, 'KV cache and full recompute give the same tokens on webgpu');
    assert.ok((gpu.kvCache_msPerToken as number) > 0 && (gpu.batch.tokPerSec as number) > 0, JSON.stringify(gpu));
    assert.equal(gpu.batch.kvCache, false);
    assert.equal(wasm.batch.kvCache, true);
    assert.deepEqual(gpu.kvTokens, wasm.kvTokens, 'the same greedy tokens from the same initial weights');
  });

  it('gpt-lab sample --backend webgpu generates on webgpu what --backend wasm does', () => {
    const bin = path.resolve(__dirname, '../../../../../bin/gpt-lab.js');
    const sample = (backend: string) => {
      const args = ['sample', '--model', base, '--prompt', PROMPT, '--max-tokens', '20', '--temperature', '0'];
      const r = spawnSync(process.execPath, [bin, ...args, '--backend', backend, '--json'], {
        encoding: 'utf8',
        timeout: 240_000,
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { backend: string; completion: string; tokens: number };
    };
    const [wasm, gpu] = [sample('wasm'), sample('webgpu')];
    assert.equal(wasm.backend, 'wasm');
    assert.equal(gpu.backend, 'webgpu');
    assert.ok(gpu.tokens > 0);
    assert.equal(gpu.completion, wasm.completion);
  });
});
