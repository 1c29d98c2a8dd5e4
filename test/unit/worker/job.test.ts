import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { LOCK_FILE } from '../../../src/core/checkpoint/lock';
import type { TrainHooks, TrainProgress } from '../../../src/core/train/loop';
import type { WorkerEvent } from '../../../src/protocol/worker';
import { WorkerJob } from '../../../src/worker/job';
import { tmpDir } from '../helpers/train';

const quiet = () => undefined;
const progress = (fraction: number) => ({ fraction, step: 1, loss: 1, tokensPerSec: 1, etaMs: 0 }) as TrainProgress;

describe('a worker job: one run at a time, its folder locked, Stop at the next step', () => {
  it('refuses a second run while one is in progress, and runs again once it is done', async () => {
    const job = new WorkerJob('A test run is already in progress.');
    const dir = await tmpDir('worker-job');
    let finish!: () => void;
    const first = job.run(dir, 'test', quiet, () => new Promise<void>((resolve) => (finish = resolve)));
    assert.equal(job.running, true);
    assert.ok(existsSync(path.join(dir, LOCK_FILE)), 'the folder is locked while the job runs');
    await assert.rejects(
      job.run(await tmpDir('worker-job'), 'test', quiet, async () => 1),
      (e: Error & { code?: string }) => e.code === 'BUSY' && e.message === 'A test run is already in progress.',
    );
    finish();
    await first;
    assert.equal(job.running, false);
    assert.ok(!existsSync(path.join(dir, LOCK_FILE)), 'the lock is released');
    assert.equal(await job.run(dir, 'test', quiet, async () => 2), 2);
  });

  it('releases the lock and the gate when the work fails', async () => {
    const job = new WorkerJob('busy');
    const dir = await tmpDir('worker-job');
    await assert.rejects(
      job.run(dir, 'test', quiet, async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(job.running, false);
    assert.ok(!existsSync(path.join(dir, LOCK_FILE)));
  });

  it('stops only a running job, through the hooks it hands the loop; a new run starts unstopped', async () => {
    const job = new WorkerJob('busy');
    const dir = await tmpDir('worker-job');
    assert.equal(job.stop(), false, 'nothing to stop');
    const seen: boolean[] = [];
    await job.run(dir, 'test', quiet, async (hooks: TrainHooks) => {
      seen.push(hooks.shouldStop!());
      assert.equal(job.stop(), true);
      seen.push(hooks.shouldStop!(), job.stopping);
    });
    await job.run(dir, 'test', quiet, async (hooks) => seen.push(hooks.shouldStop!()));
    assert.deepEqual(seen, [false, true, true, false]);
  });

  it('streams logs, evaluations and checkpoints, and progress at most ~10 times a second (always the last)', async () => {
    const job = new WorkerJob('busy');
    const events: WorkerEvent['event'][] = [];
    await job.run(
      await tmpDir('worker-job'),
      'test',
      (e) => events.push(e),
      async (hooks) => {
        hooks.onLog!('hello');
        hooks.onCheckpoint!(3);
        for (let i = 0; i < 50; i++) hooks.onProgress!(progress(i / 100));
        hooks.onProgress!(progress(1));
      },
    );
    const progressEvents = events.filter((e) => e === 'progress').length;
    assert.ok(progressEvents >= 2 && progressEvents < 10, `${progressEvents} progress events`);
    assert.deepEqual(events.slice(0, 3), ['log', 'checkpoint', 'progress']);
    assert.equal(events.at(-1), 'progress');
  });
});
