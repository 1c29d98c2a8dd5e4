import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { CliProcess, corpusDir, TINY, tmpDir } from './support';

describe('fault: the training process is paused (SIGSTOP, later SIGCONT), as when a machine sleeps', function () {
  this.timeout(120_000);

  it('training continues, and the pause barely counts against a minutes budget', async () => {
    const corpus = await corpusDir();
    const out = path.join(await tmpDir(), 'model');
    const p = new CliProcess(['train', corpus, '--out', out, '--minutes', '0.06', ...TINY, '--json']);
    const before = await p.waitFor(
      (e) => e.event === 'progress' && (e.step as number) >= 30 && (e.elapsedMs as number) > 1000,
    );
    assert.ok(before, p.describe());
    p.child.kill('SIGSTOP');
    const pauseMs = 3000;
    await new Promise((r) => setTimeout(r, pauseMs));
    const stoppedAt = p.events.filter((e) => e.event === 'progress').at(-1)!;
    p.child.kill('SIGCONT');
    const { code } = await p.exited;
    assert.equal(code, 0, p.describe());
    const progress = p.events.filter((e) => e.event === 'progress');
    const after = progress[progress.indexOf(stoppedAt) + 1];
    assert.ok(after, 'no step after the pause');
    const counted = (after.elapsedMs as number) - (stoppedAt.elapsedMs as number);
    assert.ok(counted < pauseMs / 2, `the ${pauseMs} ms pause counted ${counted} ms of the budget`);
    const done = p.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.equal(done.stopped, 'budget');
    assert.ok((done.step as number) > (after.step as number), 'training stopped after the pause');
    assert.ok((done.elapsedMs as number) < 3600 + 1500, `budget 3.6 s, counted ${done.elapsedMs} ms`);
  });
});
