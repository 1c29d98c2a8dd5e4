import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../../src/core/checkpoint';
import { assertHistoryConsistent, copyOfModel, killAtStep, randInt, runCli, tmpDir } from './support';

/** Every file of a folder, hashed: the parent (and the reward model PPO reads) must come out byte for byte. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await fs.readdir(dir)).sort()) {
    out[name] = createHash('sha256')
      .update(await fs.readFile(path.join(dir, name)))
      .digest('hex');
  }
  return out;
}

/**
 * The later stages (reward model, DPO, PPO) run on the same loop as pre-training and SFT: a SIGKILL at a random
 * step leaves the last checkpoint (every 100 steps) whole, `--resume` continues from the step after it, and the
 * history holds no step twice. kill-training.test.ts covers pre-training and fine-tuning.
 */
describe('fault: a later stage (reward, DPO, PPO) is killed (SIGKILL) at a random step', function () {
  this.timeout(120_000);
  let base: string;
  let pairs: string;
  let reward: string;

  before(async () => {
    const root = await tmpDir();
    base = await copyOfModel();
    pairs = path.join(root, 'pairs.jsonl');
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ prompt: `// f${i}\n`, chosen: `return ${i};`, rejected: `throw ${i};` }),
    );
    await fs.writeFile(pairs, lines.join('\n') + '\n');
    reward = path.join(root, 'reward-0');
    const r = await runCli(stageArgs('reward', path.join(root, 'reward-0'), ['--steps', '3']));
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.last));
  });

  function stageArgs(stage: string, out: string, extra: string[] = []): string[] {
    const args = [stage, '--model', base, '--data', pairs, '--out', out, '--batch', '2', '--backend', 'wasm'];
    if (stage === 'ppo') args.push('--reward', reward);
    return [...args, ...extra, '--json'];
  }

  for (const stage of ['reward', 'dpo', 'ppo']) {
    it(`${stage}: the last checkpoint loads, resume continues from it, the history is consistent, the parent untouched`, async () => {
      const out = path.join(path.dirname(base), `${stage}-1`);
      const parentBefore = await fingerprint(base);
      const rewardBefore = await fingerprint(reward);

      // Past the first checkpoint (step 100), before or after the second; the kill may land inside a save.
      const last = await killAtStep(stageArgs(stage, out, ['--steps', '1000']), randInt(101, 230));
      const ckpt = await loadCheckpoint(out);
      const expected = Math.floor(last / 100) * 100;
      assert.ok(ckpt.step === expected || ckpt.step === expected - 100, `killed after ${last}: at ${ckpt.step}`);
      assert.ok(ckpt.step >= 100, `killed after ${last}: no checkpoint`);
      assert.ok(ckpt.optimizer, 'the optimizer state of the checkpoint is missing');
      await assertHistoryConsistent(out, Number.MAX_SAFE_INTEGER);

      const resumed = await runCli(stageArgs(stage, out, ['--resume', '--steps', '3']));
      assert.equal(resumed.code, 0, resumed.stderr + JSON.stringify(resumed.last));
      assert.equal(resumed.last?.event, 'done');
      assert.equal(resumed.last?.step, ckpt.step + 3, `resumed from step ${ckpt.step}`);
      assert.equal(resumed.events.find((e) => e.event === 'progress')?.step, ckpt.step + 1);
      await assertHistoryConsistent(out, ckpt.step + 3);
      assert.equal((await loadCheckpoint(out)).step, ckpt.step + 3);

      assert.deepEqual(await fingerprint(base), parentBefore, 'the parent changed');
      assert.deepEqual(await fingerprint(reward), rewardBefore, 'the reward model changed');
    });
  }
});
