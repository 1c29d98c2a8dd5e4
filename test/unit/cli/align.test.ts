import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readVersion } from '../../../src/core/versions';
import { runCli } from './run';
import { tinyBase } from './tinyBase';

describe('gpt-lab reward, dpo, ppo and compare', function () {
  this.timeout(120_000);
  let root: string;
  let base: string;
  let pairs: string;
  before(async () => {
    ({ root, base } = await tinyBase());
    pairs = path.join(root, 'pairs.jsonl');
    const lines = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({ prompt: `f${i}() {\n  `, chosen: `return ${i};`, rejected: `throw ${i};` }),
    );
    await fs.writeFile(pairs, [...lines, '{"prompt": "x", "chosen": "a", "rejected": "a"}'].join('\n') + '\n');
  });

  it('each stage writes its version beside the parent and ends in done with its metrics; compare gives a win rate', async () => {
    const reward = await runCli(['reward', '--model', base, '--data', pairs, '--steps', '2', '--json']);
    assert.equal(reward.code, 0, reward.stderr + reward.stdout);
    const data = reward.events.find((e) => e.event === 'data')!;
    assert.deepEqual(
      (data.problems as { line: number; message: string }[]).map((p) => p.line),
      [7],
    );
    const done = reward.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.equal(typeof (done.metrics as { accuracy: number }).accuracy, 'number');
    assert.equal((await readVersion(path.join(root, 'reward-1'))).stage, 'reward');

    const dpo = await runCli(['dpo', '--model', base, '--data', pairs, '--steps', '2', '--beta', '0.2', '--json']);
    assert.equal(dpo.code, 0, dpo.stderr);
    const m = dpo.events.at(-1)!.metrics as Record<string, number>;
    for (const k of ['rewardChosen', 'rewardRejected', 'accuracy', 'margin']) assert.equal(typeof m[k], 'number', k);
    const dpoVersion = await readVersion(path.join(root, 'dpo-1'));
    assert.deepEqual([dpoVersion.stage, dpoVersion.parent, dpoVersion.data?.beta], ['dpo', 'base', 0.2]);

    const ppo = await runCli([
      'ppo',
      '--model',
      base,
      '--reward',
      path.join(root, 'reward-1'),
      '--data',
      pairs,
      '--steps',
      '2',
      '--batch',
      '2',
      '--json',
    ]);
    assert.equal(ppo.code, 0, ppo.stderr);
    const pm = ppo.events.at(-1)!.metrics as Record<string, number>;
    assert.ok(Number.isFinite(pm.reward) && Number.isFinite(pm.kl), JSON.stringify(pm));
    assert.equal((await readVersion(path.join(root, 'ppo-1'))).stage, 'ppo');

    const cmp = await runCli([
      'compare',
      '--model',
      path.join(root, 'dpo-1'),
      '--against',
      base,
      '--reward',
      path.join(root, 'reward-1'),
      '--data',
      pairs,
      '--max-tokens',
      '4',
      '--json',
    ]);
    assert.equal(cmp.code, 0, cmp.stderr);
    const w = cmp.events.at(-1)!;
    assert.equal((w.rows as unknown[]).length, 6);
    assert.ok((w.winRate as number) >= 0 && (w.winRate as number) <= 1);
  });

  it('ppo without a reward model, and a reward model that is not one, are refused with a code', async () => {
    const none = await runCli(['ppo', '--model', base, '--data', pairs, '--steps', '1', '--json']);
    assert.equal(none.code, 1);
    assert.equal(none.events.at(-1)?.code, 'BAD_OPTION');
    const wrong = await runCli([
      'ppo',
      '--model',
      base,
      '--reward',
      base,
      '--data',
      pairs,
      '--steps',
      '1',
      '--out',
      path.join(root, 'p2'),
      '--json',
    ]);
    assert.equal(wrong.events.at(-1)?.code, 'NOT_A_REWARD_MODEL', wrong.stdout);
  });
});
