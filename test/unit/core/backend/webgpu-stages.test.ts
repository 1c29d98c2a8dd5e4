import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../../src/core/backend';
import type { SftExample } from '../../../../src/core/data/examples';
import type { Preference } from '../../../../src/core/data/preferences';
import { checkpointExists } from '../../../../src/core/checkpoint';
import { loadModel } from '../../../../src/core/model/persist';
import { trainDpo, trainPpo, trainRewardModel } from '../../../../src/core/train/align';
import { finetune } from '../../../../src/core/train/finetune';
import type { StageResult } from '../../../../src/core/train/stage';
import { winRateByReward } from '../../../../src/core/train/winRate';
import { parentVersion } from '../../helpers/train';
import { adapterOrSkip } from '../../helpers/webgpu';

/*
 * The stages after pre-training on the webgpu backend, which reads tensors only asynchronously in Node: each runs
 * a few steps from the same parent on wasm and on webgpu, and the losses must agree. In CI the adapter is Mesa's
 * llvmpipe (software, through Dawn's OpenGL ES backend). Skips, saying why, where no adapter exists.
 */

const STEPS = 3;

const EXAMPLES: SftExample[] = ['add', 'sub', 'mul', 'get', 'put', 'run'].map((f, i) => ({
  prompt: `function ${f}(a) {\n  `,
  completion: `return a + ${i};`,
}));

const PAIRS: Preference[] = ['add', 'sub', 'mul', 'get', 'put', 'run'].map((f, i) => ({
  prompt: `function ${f}(a) {\n  `,
  chosen: `return a + ${i};`,
  rejected: `throw ${i};`,
}));

describe('later stages on webgpu: SFT, reward model, DPO and PPO read asynchronously', function () {
  this.timeout(600_000);
  let root: string;
  let base: string;

  before(async function () {
    const a = await adapterOrSkip(this, 'webgpu stage tests');
    console.log(`      adapter: ${a.description} [${a.mode}, ${a.kind.kind}]`);
    await initBackend('wasm');
    ({ root, base } = await parentVersion('webgpu-stages'));
  });

  after(async () => {
    await initBackend('wasm'); // the rest of the suite runs on the default
  });

  /** The stage on wasm, then on webgpu, from the same parent and seed: losses and held-out loss must agree. */
  async function onBoth<R extends StageResult>(stage: string, run: (outDir: string) => Promise<R>) {
    await initBackend('wasm');
    const wasm = await run(path.join(root, `${stage}-wasm`));
    await initBackend('webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    const gpu = await run(path.join(root, `${stage}-webgpu`));
    await initBackend('wasm');
    const show = (r: R) => [...r.losses, r.metrics.valLoss].map((l) => l.toFixed(5)).join(' ');
    console.log(`      ${stage} losses, then held-out: wasm ${show(wasm)}; webgpu ${show(gpu)}`);
    assert.equal(gpu.step, STEPS);
    assert.equal(gpu.losses.length, STEPS);
    for (let i = 0; i < STEPS; i++) {
      assert.ok(
        Math.abs(gpu.losses[i] - wasm.losses[i]) < 2e-3,
        `${stage} step ${i}: ${gpu.losses[i]} vs ${wasm.losses[i]}`,
      );
    }
    const [a, b] = [wasm.metrics.valLoss, gpu.metrics.valLoss];
    assert.ok(Number.isFinite(a) && Math.abs(a - b) < 2e-3, `${stage} held-out: ${b} vs ${a}`);
    return { wasm, gpu };
  }

  it('fine-tunes (SFT), and makes its before/after table', async () => {
    const { wasm, gpu } = await onBoth('sft', (outDir) =>
      finetune({ parentDir: base, outDir, examples: EXAMPLES, maxSteps: STEPS, learningRate: 1e-2 }),
    );
    assert.ok(wasm.losses[STEPS - 1] < wasm.losses[0], 'the model learns');
    assert.equal(gpu.comparison?.rows.length, wasm.comparison?.rows.length);
    assert.ok(gpu.comparison!.rows.length > 0);
  });

  it('trains a reward model, and DPO against a frozen reference', async () => {
    const reward = await onBoth('reward', (outDir) =>
      trainRewardModel({ parentDir: base, outDir, pairs: PAIRS, maxSteps: STEPS, learningRate: 1e-2 }),
    );
    assert.ok(Number.isFinite(reward.gpu.metrics.accuracy));
    const dpo = await onBoth('dpo', (outDir) =>
      trainDpo({ parentDir: base, outDir, pairs: PAIRS, maxSteps: STEPS, learningRate: 1e-2 }),
    );
    assert.ok(dpo.wasm.losses[0] !== dpo.wasm.losses[STEPS - 1], 'the policy moves');
  });

  it('runs PPO (rollouts, reward-model scores) and the win rate', async () => {
    const rewardDir = path.join(root, 'reward-wasm'); // the previous test's; trained here if run alone
    await initBackend('wasm');
    if (!checkpointExists(rewardDir))
      await trainRewardModel({ parentDir: base, outDir: rewardDir, pairs: PAIRS, maxSteps: 1 });
    const prompts = PAIRS.map((p) => ({ prompt: p.prompt }));
    const ppo = { maxNewTokens: 4, temperature: 0 }; // greedy: rollouts cannot part on a float's rounding
    await onBoth('ppo', (outDir) =>
      trainPpo({ parentDir: base, outDir, prompts, rewardDir, ppo, maxSteps: STEPS, learningRate: 1e-2 }),
    );
    const winRate = async (backend: 'wasm' | 'webgpu') => {
      await initBackend(backend);
      const [before, after, rm] = await Promise.all(
        [base, path.join(root, `ppo-${backend}`), rewardDir].map((d) => loadModel(d, { trainable: false })),
      );
      try {
        return await winRateByReward(before.model, after.model, rm.model, before.tokenizer, ['function f(a) {\n'], {
          maxNewTokens: 4,
        });
      } finally {
        for (const m of [before, after, rm]) m.model.dispose();
      }
    };
    const [w, g] = [await winRate('wasm'), await winRate('webgpu')];
    await initBackend('wasm');
    assert.deepEqual(
      g.rows.map((r) => r.after),
      w.rows.map((r) => r.after),
    );
    assert.ok(Math.abs(g.meanAfter - w.meanAfter) < 2e-3, `${g.meanAfter} vs ${w.meanAfter}`);
  });
});
